//! Shutdown stops every thread and closes the listening port, also when a shard ignores it.
//! One test in this binary: it counts the process's threads.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use shard::{Runtime, RuntimeConfig, ShardContext};

#[test]
fn shutdown_leaves_no_thread_and_closes_the_port() {
    let threads_before = common::thread_count();

    // A cooperative shard: accepts until shutdown, then returns.
    let runtime = Runtime::start(
        common::config_with_listener(2),
        |ctx: ShardContext<()>| async move {
            let listener = ctx.listeners()[0].clone();
            while let Some(accepted) = ctx.accept(&listener).await {
                drop(accepted);
            }
        },
    )
    .expect("start");
    let addr = runtime.listen_addrs()[0];
    let mut client = TcpStream::connect(addr).expect("connect while running");
    // The shard accepts and drops the connection: EOF.
    let mut buf = [0u8; 1];
    assert_eq!(client.read(&mut buf).unwrap(), 0);
    assert!(common::thread_count() > threads_before);
    runtime.shutdown_and_join().expect("join");
    assert_eq!(common::settle_thread_count(threads_before), threads_before);
    let refused = TcpStream::connect(addr).expect_err("port must be closed");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);

    // A stubborn shard ignores shutdown: the drain timeout still ends it.
    let config = RuntimeConfig {
        drain_timeout: Duration::from_millis(200),
        ..common::config_with_listener(2)
    };
    let runtime = Runtime::start(config, |_ctx: ShardContext<()>| {
        std::future::pending::<()>()
    })
    .expect("start");
    let addr = runtime.listen_addrs()[0];
    runtime.shutdown_and_join().expect("join");
    assert_eq!(common::settle_thread_count(threads_before), threads_before);
    assert!(TcpStream::connect(addr).is_err(), "port must be closed");
}

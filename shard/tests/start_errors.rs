//! Start-up failures come back as errors, not panics, and leave nothing running.

mod common;

use std::net::TcpListener;

use shard::{ListenerConfig, MeshConfig, Runtime, RuntimeConfig, ShardContext, StartError};

async fn idle(_ctx: ShardContext<()>) {}

#[test]
fn bind_conflict_is_an_error() {
    // A socket without SO_REUSEPORT holds the port: our SO_REUSEPORT bind must fail.
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let config = RuntimeConfig {
        listeners: vec![ListenerConfig::new(holder.local_addr().unwrap())],
        ..common::config(2)
    };
    match Runtime::start(config, idle) {
        Err(StartError::Bind { shard: 0, .. }) => {}
        other => panic!("expected a bind error, got {other:?}"),
    }
}

#[test]
fn out_of_bounds_config_is_an_error() {
    let config = RuntimeConfig {
        mesh: MeshConfig {
            outbox_high_water_msgs: 100,
            outbox_capacity_msgs: 10,
            ..MeshConfig::default()
        },
        ..common::config(1)
    };
    assert!(matches!(
        Runtime::start(config, idle),
        Err(StartError::Config(_))
    ));
    assert!(matches!(
        Runtime::start(common::config(0), idle),
        Err(StartError::Config(_))
    ));
}

#[test]
fn ipv4_and_ipv6_wildcards_share_a_port() {
    let v4 = RuntimeConfig {
        listeners: vec![ListenerConfig::new("0.0.0.0:0".parse().unwrap())],
        ..common::config(1)
    };
    let v4 = Runtime::start(v4, idle_until_shutdown).expect("0.0.0.0");
    let port = v4.listen_addrs()[0].port();
    let v6 = RuntimeConfig {
        listeners: vec![ListenerConfig::new(format!("[::]:{port}").parse().unwrap())],
        ..common::config(1)
    };
    match Runtime::start(v6, idle_until_shutdown) {
        Ok(v6) => v6.shutdown_and_join().unwrap(),
        // A host without IPv6 cannot run this part.
        Err(StartError::Bind { source, .. })
            if source.kind() == std::io::ErrorKind::AddrNotAvailable => {}
        Err(e) => panic!("[::]:{port} next to 0.0.0.0:{port}: {e}"),
    }
    v4.shutdown_and_join().unwrap();
}

async fn idle_until_shutdown(ctx: ShardContext<()>) {
    ctx.shutdown().wait().await;
}

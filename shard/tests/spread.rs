//! SO_REUSEPORT spreads connections over the shards.

mod common;

use std::io::Read;
use std::net::TcpStream;

use futures_lite::AsyncWriteExt;
use shard::{Runtime, ShardContext};

const CONNECTIONS: usize = 200;
const SHARDS: usize = 2;

#[test]
fn connections_spread_over_shards() {
    let runtime = Runtime::start(
        common::config_with_listener(SHARDS),
        |ctx: ShardContext<()>| async move {
            let listener = ctx.listeners()[0].clone();
            let shard_id = ctx.shard_id() as u8;
            while let Some(accepted) = ctx.accept(&listener).await {
                let mut stream = accepted.expect("accept");
                glommio::spawn_local(async move {
                    // Tell the client which shard accepted it.
                    let _ = stream.write_all(&[shard_id]).await;
                    let _ = stream.close().await;
                })
                .detach();
            }
        },
    )
    .expect("start");
    let addr = runtime.listen_addrs()[0];

    let mut per_shard = [0usize; SHARDS];
    for _ in 0..CONNECTIONS {
        let mut client = TcpStream::connect(addr).expect("connect");
        let mut id = [0u8; 1];
        client.read_exact(&mut id).expect("shard id");
        per_shard[id[0] as usize] += 1;
    }

    let stats = runtime.stats();
    runtime.shutdown_and_join().expect("join");
    assert_eq!(per_shard.iter().sum::<usize>(), CONNECTIONS);
    for (shard, &n) in per_shard.iter().enumerate() {
        assert!(n > 0, "shard {shard} accepted nothing: {per_shard:?}");
        assert_eq!(stats[shard].connections_accepted, n as u64);
    }
}

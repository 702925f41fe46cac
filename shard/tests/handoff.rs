//! A connection handed to another shard mid-stream keeps every byte.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use shard::{Handoff, Runtime, ShardContext};

const STREAM_BYTES: usize = 1 << 20;

fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 8)) as u8
}

#[test]
fn handoff_mid_stream_keeps_every_byte() {
    let runtime = Runtime::start(
        common::config_with_listener(2),
        |ctx: ShardContext<Handoff<usize>>| async move {
            // Target side: adopt, echo what the source had read, then echo the rest.
            let receiver = glommio::spawn_local({
                let ctx = ctx.clone();
                async move {
                    while let Some(batch) = ctx.mesh().recv().await {
                        for handoff in batch.msgs {
                            let (mut stream, already_read, from_shard) = ctx.adopt(handoff);
                            assert_ne!(from_shard, ctx.shard_id());
                            stream.write_all(&already_read).await.unwrap();
                            let mut buf = vec![0u8; 16 << 10];
                            loop {
                                let n = stream.read(&mut buf).await.unwrap();
                                if n == 0 {
                                    break;
                                }
                                stream.write_all(&buf[..n]).await.unwrap();
                            }
                            stream.close().await.unwrap();
                        }
                    }
                }
            });
            // Source side: read a first part, then hand the connection to the other shard.
            let listener = ctx.listeners()[0].clone();
            while let Some(accepted) = ctx.accept(&listener).await {
                let mut stream = accepted.unwrap();
                let mut first = vec![0u8; 3000];
                let n = stream.read(&mut first).await.unwrap();
                first.truncate(n);
                let target = (ctx.shard_id() + 1) % ctx.shard_count();
                let handoff = Handoff::new(stream, first, ctx.shard_id()).unwrap();
                ctx.mesh().send(target, handoff).expect("outbox has room");
            }
            receiver.await;
        },
    )
    .expect("start");
    let addr = runtime.listen_addrs()[0];

    let sent: Vec<u8> = (0..STREAM_BYTES).map(pattern).collect();
    let mut client = TcpStream::connect(addr).unwrap();
    let mut writer = client.try_clone().unwrap();
    let writer = std::thread::spawn({
        let sent = sent.clone();
        move || {
            for chunk in sent.chunks(7919) {
                writer.write_all(chunk).unwrap();
            }
            writer.shutdown(Shutdown::Write).unwrap();
        }
    });
    let mut echoed = Vec::with_capacity(STREAM_BYTES);
    client.read_to_end(&mut echoed).unwrap();
    writer.join().unwrap();

    let stats = runtime.stats();
    runtime.shutdown_and_join().expect("join");
    assert_eq!(echoed.len(), sent.len());
    assert!(echoed == sent, "echoed bytes differ from the sent ones");
    assert_eq!(stats.iter().map(|s| s.handoffs_adopted).sum::<u64>(), 1);
}

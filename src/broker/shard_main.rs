//! The broker's main task on each shard: accept on every listener, serve each
//! connection on the accepting shard, stop accepting at shutdown.

use std::cell::RefCell;
use std::rc::Rc;

use shard::glommio;
use shard::ShardContext;

use super::connection::{serve, ConnectionSettings, ShardConnections};
use super::read_buffer::ReadScratch;

/// What shards send each other. Empty until routing and session handoff arrive.
#[derive(Debug)]
pub enum MeshMessage {}

/// Runs one shard of the broker until shutdown.
pub async fn shard_main(ctx: ShardContext<MeshMessage>, settings: ConnectionSettings) {
    let connections = Rc::new(ShardConnections {
        scratch: RefCell::new(ReadScratch::new()),
        table: RefCell::default(),
        timers: ctx.timers(),
    });
    let deadlines = glommio::spawn_local({
        let connections = Rc::clone(&connections);
        async move { connections.run_deadlines().await }
    });
    let mut accept_loops = Vec::new();
    for listener in ctx.listeners() {
        let listener = Rc::clone(listener);
        let (ctx, connections, settings) = (ctx.clone(), Rc::clone(&connections), settings.clone());
        accept_loops.push(glommio::spawn_local(async move {
            while let Some(accepted) = ctx.accept(&listener).await {
                match accepted {
                    Ok(stream) => {
                        let peer = stream.peer_addr().ok();
                        tracing::debug!(shard = ctx.shard_id(), ?peer, "accepted");
                        let task = serve(stream, peer, Rc::clone(&connections), settings.clone());
                        glommio::spawn_local(task).detach();
                    }
                    // Out of file descriptors and the like: log, keep accepting.
                    Err(e) => tracing::warn!(shard = ctx.shard_id(), "accept failed: {e}"),
                }
            }
        }));
    }
    for accept_loop in accept_loops {
        accept_loop.await;
    }
    deadlines.await;
    tracing::debug!(shard = ctx.shard_id(), "stopped accepting");
}

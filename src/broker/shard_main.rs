//! The broker's main task on each shard: start the shard's broker tasks, accept on every
//! listener, and at shutdown ask every connection to close (MQTT 5.0: 0x8B) and wait for
//! them within the runtime's drain time.

use std::rc::Rc;
use std::time::Duration;

use shard::glommio;
use shard::ShardContext;

use super::connection::{serve, ConnectionSettings};
pub use super::mesh_message::MeshMessage;
use super::shard_broker::ShardBroker;

/// Runs one shard of the broker until shutdown.
pub async fn shard_main(ctx: ShardContext<MeshMessage>, settings: ConnectionSettings) {
    let broker = ShardBroker::new(ctx.clone(), settings);
    glommio::spawn_local(Rc::clone(&broker).run_inbox()).detach();
    glommio::spawn_local(Rc::clone(&broker).run_deadlines()).detach();
    glommio::spawn_local(Rc::clone(&broker).run_deferred()).detach();
    if let Some(interval) = broker.settings.sys_interval {
        glommio::spawn_local(Rc::clone(&broker).run_sys(interval)).detach();
    }
    let mut accept_loops = Vec::new();
    for listener in ctx.listeners() {
        let listener = Rc::clone(listener);
        let (ctx, broker) = (ctx.clone(), Rc::clone(&broker));
        accept_loops.push(glommio::spawn_local(async move {
            while let Some(accepted) = ctx.accept(&listener).await {
                match accepted {
                    Ok(stream) => {
                        let peer = stream.peer_addr().ok();
                        tracing::debug!(shard = ctx.shard_id(), ?peer, "accepted");
                        glommio::spawn_local(serve(Rc::clone(&broker), stream, peer)).detach();
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
    tracing::debug!(
        shard = ctx.shard_id(),
        "stopped accepting; closing connections"
    );
    broker.close_all_connections();
    while broker.connection_count() > 0 {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
}

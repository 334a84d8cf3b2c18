//! Publishes what the store's outbox holds: every configuration change appended its
//! `ConfigChanged` event in the same transaction as the change, and this relay moves
//! them to the bus, acknowledging each only after the bus accepted it.
//!
//! Delivery is at least once: two api replicas may both publish a row before either
//! acknowledges it, and consumers drop the duplicate by event id.

use std::sync::Arc;
use std::time::Duration;

use hotline_bus::Publisher;
use hotline_core::Event;
use hotline_store::Store;
use tokio_util::sync::CancellationToken;

/// How often the outbox is polled when idle.
pub const POLL: Duration = Duration::from_millis(200);
const BATCH: u32 = 100;

/// Relays until `shutdown`, then drains what is pending once more and returns.
pub async fn relay(
    store: Arc<dyn Store>,
    publisher: Publisher,
    shutdown: CancellationToken,
) -> Result<(), String> {
    loop {
        let stopping = tokio::select! {
            () = tokio::time::sleep(POLL) => false,
            () = shutdown.cancelled() => true,
        };
        loop {
            match relay_batch(store.as_ref(), &publisher).await {
                Ok(n) if n == BATCH as usize => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay will retry");
                    break;
                }
            }
        }
        if stopping {
            return Ok(());
        }
    }
}

/// Publishes one batch; returns how many rows it handled.
async fn relay_batch(store: &dyn Store, publisher: &Publisher) -> Result<usize, String> {
    let rows = store
        .outbox_pending(BATCH)
        .await
        .map_err(|e| e.to_string())?;
    let mut done = Vec::with_capacity(rows.len());
    for row in &rows {
        match Event::decode(&row.payload) {
            Ok(event) => {
                if let Err(e) = publisher.publish(&event).await {
                    // Acknowledge what went out; the rest is retried next round.
                    store.outbox_ack(&done).await.map_err(|e| e.to_string())?;
                    return Err(e.to_string());
                }
            }
            Err(e) => {
                // Only this service writes the outbox, so this is a bug, not bad input;
                // keeping the row would block every later change.
                tracing::error!(seq = row.seq, tenant = %row.tenant, error = %e, "outbox row does not decode; dropped");
            }
        }
        done.push(row.seq);
    }
    store.outbox_ack(&done).await.map_err(|e| e.to_string())?;
    Ok(rows.len())
}

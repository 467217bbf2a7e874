//! The benchmark's baseline: a bare binary COPY pipe of one website's rows, with
//! the same byte forwarding as the engine — reading and writing overlapped,
//! the target session a replica — but no capture, fence, order, chunks,
//! checkpoints or verification. What "COPY speed" means on this machine.

use futures_util::StreamExt;
use sqlx::PgPool;

use super::copy::format::SEND_BYTES;
use crate::config::TenancySettings;
use crate::ids::WebsiteId;
use crate::mover::error::{Context, MoveError};
use crate::tenancy;

/// Copies every tenant table's rows of `website` in one target transaction; returns rows.
pub async fn raw_pipe(
    source: &PgPool,
    target: &PgPool,
    tenancy: &TenancySettings,
    website: WebsiteId,
) -> Result<u64, MoveError> {
    let mut conn = source
        .acquire()
        .await
        .context(|| "connecting to the source".into())?;
    let tables = tenancy::order_by_foreign_keys(tenancy::discover(&mut conn, tenancy).await?)?;
    let mut tx = target
        .begin()
        .await
        .context(|| "opening a target transaction".into())?;
    crate::db::bypass_fence(&mut tx)
        .await
        .context(|| "opening a target transaction".into())?;
    let mut rows = 0;
    for table in &tables {
        let cols = table.copy_column_list();
        let quoted = table.name.quoted();
        let mut stream = conn
            .copy_out_raw(&format!(
                "COPY (SELECT {cols} FROM {quoted} sm_t WHERE {}) TO STDOUT (FORMAT binary)",
                table.belongs("sm_t", &crate::sql::literal_i64(website.get()))
            ))
            .await
            .context(|| "reading the source".into())?;
        let mut sink = tx
            .copy_in_raw(&format!(
                "COPY {quoted} ({cols}) FROM STDIN (FORMAT binary)"
            ))
            .await
            .context(|| "writing the target".into())?;
        // Reading and writing overlap through a small bounded queue, as the
        // engine's copy does, and the target runs as a replica (no
        // foreign-key triggers) where the role may, as the engine's sessions
        // do: the floor the move is held to is the fastest honest pipe.
        let (sender, mut receiver) = tokio::sync::mpsc::channel(16);
        let read = async move {
            let mut buf = bytes::BytesMut::with_capacity(SEND_BYTES * 2);
            while let Some(bytes) = stream.next().await {
                match bytes {
                    Ok(bytes) => buf.extend_from_slice(&bytes),
                    Err(e) => {
                        let _ = sender.send(Err(e)).await;
                        return;
                    }
                }
                if buf.len() >= SEND_BYTES && sender.send(Ok(buf.split())).await.is_err() {
                    return;
                }
            }
            let _ = sender.send(Ok(buf)).await;
        };
        let write = async {
            while let Some(chunk) = receiver.recv().await {
                let chunk = chunk.context(|| "reading the source".into())?;
                sink.send(chunk)
                    .await
                    .context(|| "writing the target".into())?;
            }
            Ok::<(), MoveError>(())
        };
        let ((), written) = tokio::join!(read, write);
        written?;
        rows += sink
            .finish()
            .await
            .context(|| "writing the target".into())?;
    }
    tx.commit()
        .await
        .context(|| "committing the raw pipe".into())?;
    Ok(rows)
}

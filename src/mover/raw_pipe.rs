//! The benchmark's baseline: a bare binary COPY pipe of one website's rows, with
//! the same byte forwarding as the engine but no fence, order, chunks,
//! checkpoints or verification. What "COPY speed" means on this machine.

use futures_util::StreamExt;
use sqlx::PgPool;

use super::SEND_BYTES;
use super::error::{Context, MoveError};
use crate::config::TenancySettings;
use crate::ids::WebsiteId;
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
        let mut buf = bytes::BytesMut::with_capacity(SEND_BYTES * 2);
        while let Some(bytes) = stream.next().await {
            buf.extend_from_slice(&bytes.context(|| "reading the source".into())?);
            if buf.len() >= SEND_BYTES {
                sink.send(buf.split())
                    .await
                    .context(|| "writing the target".into())?;
            }
        }
        sink.send(buf)
            .await
            .context(|| "writing the target".into())?;
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

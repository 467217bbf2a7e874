//! An online move's copy of one table from a snapshot it exports, with the
//! source's fingerprint of the same rows taken from that snapshot beside it
//! (`verify::at_copy` says why that verifies the table). Only a table whose
//! copy starts from nothing goes this way: a resumed one holds rows an
//! earlier attempt read from another snapshot.

use sqlx::{Connection, PgConnection, PgPool};

use super::{TableCopy, checkpoint, copy_table};
use crate::mover::error::{Context, MoveError};
use crate::mover::mechanics::verify::at_copy::{self, AtSnapshot};
use crate::mover::progress::Tracker;

/// Copies the table; returns the source's fingerprint at the copy's snapshot
/// when the whole copy read from it (and the fingerprint got its lock).
pub async fn copy_at_snapshot(
    source: (&mut PgConnection, &PgPool),
    target_conn: &mut PgConnection,
    job: &TableCopy<'_>,
    tracker: &mut Tracker<'_>,
) -> Result<Option<AtSnapshot>, MoveError> {
    let (source_conn, source_pool) = source;
    let name = job.table.name.to_string();
    let done = checkpoint::read(target_conn, job.migration, &name).await?;
    if done.rows_done > 0 || done.finished {
        copy_table(source_conn, target_conn, job, tracker).await?;
        return Ok(None);
    }
    let mut tx = source_conn
        .begin()
        .await
        .context(|| "connecting to the source shard".into())?;
    let snapshot = at_copy::export(&mut tx).await?;
    // The fingerprint's session imports the snapshot while this transaction
    // holds it, and reads beside the copy rather than after it.
    let (_, fingerprint) = tokio::try_join!(
        copy_table(&mut tx, target_conn, job, tracker),
        at_copy::source_at(source_pool, &snapshot, job.table, job.website),
    )?;
    tx.commit()
        .await
        .context(|| format!("ending the snapshot {name} was read in"))?;
    Ok(fingerprint)
}

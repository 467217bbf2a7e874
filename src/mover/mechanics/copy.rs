//! Phase 3: streams one table's rows for one website from the source to the
//! target with binary COPY, cut into chunks. Each chunk commits together with
//! its checkpoint on the target, so a resumed copy neither repeats nor skips rows.

mod at_snapshot;
pub(crate) mod checkpoint;
pub(crate) mod format;
mod job;
mod links;
mod row_reader;
mod sql;

use bytes::BytesMut;
use futures_util::StreamExt;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::mpsc;

use crate::db::bypass_fence;

use super::{collisions, owner_token};
use crate::mover::error::{Context, MoveError};
use crate::mover::progress::Tracker;
pub use at_snapshot::copy_at_snapshot;
use checkpoint::Checkpoint;
use format::{SEND_BYTES, framed};
pub use job::{TableCopy, two_passes};
use row_reader::RowReader;
use sql::{last_copied_key, read_sql, write_sql};

/// Copies whatever the checkpoint says is still missing; returns rows now on the target.
/// The connections are the caller's, detached from their pools (see `connect`).
pub async fn copy_table(
    source_conn: &mut PgConnection,
    target_conn: &mut PgConnection,
    job: &TableCopy<'_>,
    tracker: &mut Tracker<'_>,
) -> Result<u64, MoveError> {
    let name = job.table.name.to_string();
    let checkpoint = checkpoint::read(target_conn, job.migration, &name).await?;
    tracker.start_table(&name, checkpoint.rows_done as u64);
    if checkpoint.finished {
        return Ok(checkpoint.rows_done as u64);
    }
    // The key-order sort of one table stays in memory rather than spilling to disk.
    sqlx::query("SELECT set_config('work_mem', $1, false)")
        .bind(job.sort_memory)
        .execute(&mut *source_conn)
        .await
        .context(|| "configuring the source session".into())?;
    let after = if checkpoint.rows_done > 0 {
        last_copied_key(target_conn, job).await?
    } else {
        None
    };
    let mut stream = source_conn
        .copy_out_raw(&read_sql(job, after.as_deref()))
        .await
        .context(|| format!("reading {name} from the source"))?;
    // Reading the source and writing the target run concurrently, joined by a
    // small bounded queue: neither server waits for the other's round trip.
    let (sender, receiver) = mpsc::channel(QUEUED_BATCHES);
    let read = async move {
        let mut batch = BytesMut::with_capacity(READ_BATCH_BYTES * 2);
        while let Some(item) = stream.next().await {
            match item {
                Ok(bytes) => batch.extend_from_slice(&bytes),
                Err(e) => {
                    let _ = sender.send(Err(e)).await;
                    return;
                }
            }
            if batch.len() >= READ_BATCH_BYTES && sender.send(Ok(batch.split())).await.is_err() {
                return; // the writer stopped; its error is reported
            }
        }
        if !batch.is_empty() {
            let _ = sender.send(Ok(batch)).await;
        }
    };
    let write = write_chunks(receiver, target_conn, job, checkpoint, tracker);
    let started = std::time::Instant::now();
    let ((), written) = tokio::join!(read, write);
    let written = written.map_err(|e| collisions::taken_during_copy(e, job.table, job.website))?;
    if job.links_later {
        links::fill_in(source_conn, target_conn, job).await?;
        let done = Checkpoint {
            finished: true,
            ..written
        };
        checkpoint::write(target_conn, job.migration, &name, done).await?;
    }
    let rows = written.rows_done as u64;
    tracing::debug!(table = %name, rows, elapsed_ms = started.elapsed().as_millis() as u64, "table copied");
    Ok(rows)
}

/// Source bytes gathered per queue message, and messages the queue holds.
const READ_BATCH_BYTES: usize = 64 * 1024;
const QUEUED_BATCHES: usize = 16;

type Incoming = mpsc::Receiver<Result<BytesMut, sqlx::Error>>;

/// Cuts the incoming rows into chunks, each committed with its checkpoint.
async fn write_chunks(
    mut incoming: Incoming,
    target: &mut PgConnection,
    job: &TableCopy<'_>,
    mut checkpoint: Checkpoint,
    tracker: &mut Tracker<'_>,
) -> Result<Checkpoint, MoveError> {
    let name = job.table.name.to_string();
    // Rows of a self-referencing table may point at rows later in key order;
    // unless those links come later (`links_later`), one statement must defer
    // the checks to its end, so such a table is one chunk.
    let chunk_limit = if job.table.self_referencing && !job.links_later {
        u64::MAX
    } else {
        u64::from(job.batch_rows)
    };
    let writing = || format!("writing {name} to the target");
    let binary = job.table.binary_copy();
    let mut reader = RowReader::new(!binary);
    while !reader.ended {
        let mut tx = target
            .begin()
            .await
            .context(|| "opening a target transaction".into())?;
        bypass_fence(&mut tx)
            .await
            .context(|| "opening a target transaction".into())?;
        owner_token::check(&mut tx, job.migration, job.attempt).await?;
        let mut sink = tx
            .copy_in_raw(&write_sql(job.table))
            .await
            .context(writing)?;
        let mut chunk_rows = 0u64;
        let mut first = true;
        loop {
            let (rows, ready) = reader.take_rows(chunk_limit - chunk_rows)?;
            chunk_rows += rows;
            let last = reader.ended || chunk_rows == chunk_limit;
            if ready >= SEND_BYTES || last {
                let rows = reader.buf.split_to(ready);
                sink.send(framed(binary, (first, last), rows))
                    .await
                    .context(writing)?;
                first = false;
                reader.sent(ready);
                tracker
                    .add_rows(rows_unreported(&mut reader), false)
                    .await?;
            }
            if last {
                break;
            }
            match incoming.recv().await {
                Some(bytes) => {
                    reader.push(&bytes.context(|| format!("reading {name} from the source"))?)?
                }
                None if reader.source_ended() => {}
                None => {
                    return Err(MoveError::CopyFormat(
                        name,
                        "the source stream ended before its trailer".into(),
                    ));
                }
            }
        }
        sink.finish().await.context(writing)?;
        checkpoint.rows_done += chunk_rows as i64;
        checkpoint.chunks_done += 1;
        // Links still to fill in: finished only once they are (see `links`).
        checkpoint.finished = reader.ended && !job.links_later;
        checkpoint::write(&mut tx, job.migration, &name, checkpoint).await?;
        tx.commit()
            .await
            .context(|| format!("committing a chunk of {name}"))?;
        tracker.add_rows(0, true).await?;
        tracker.check_cancel().await?;
    }
    Ok(checkpoint)
}

fn rows_unreported(reader: &mut RowReader) -> u64 {
    std::mem::take(&mut reader.unreported)
}

/// One connection to each side for a whole copy phase, detached from the pools:
/// if anything fails mid-COPY they are closed rather than handed back in an
/// unusable protocol state.
pub async fn connect(
    source: &PgPool,
    target: &PgPool,
) -> Result<(PgConnection, PgConnection), MoveError> {
    let source = source
        .acquire()
        .await
        .context(|| "connecting to the source shard".into())?;
    let target = target
        .acquire()
        .await
        .context(|| "connecting to the target shard".into())?;
    Ok((source.detach(), target.detach()))
}

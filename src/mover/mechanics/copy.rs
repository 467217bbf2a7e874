//! Phase 3: streams one table's rows for one website from the source to the
//! target with binary COPY, cut into chunks. Each chunk commits together with
//! its checkpoint on the target, so a resumed copy neither repeats nor skips rows.

pub(crate) mod checkpoint;
pub(crate) mod format;
pub(crate) mod links;
pub(crate) mod row_reader;
pub(crate) mod sql;

use bytes::BytesMut;
use futures_util::StreamExt;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::mpsc;

use crate::control::tables;
use crate::db::bypass_fence;
use crate::ids::{MigrationId, WebsiteId};
use crate::mover::attempt::Attempt;
use crate::mover::copy_format::framed;
use crate::mover::copy_sql::{last_copied_key, read_sql, write_sql};
use crate::mover::error::{Context, MoveError};
use crate::mover::progress::Tracker;
use crate::mover::row_reader::RowReader;
use crate::mover::{Mover, collisions, fence, owner_token, shard_schema};
use crate::tenancy::TenantTable;
use checkpoint::Checkpoint;

/// Bytes gathered before handing them to the target socket: COPY OUT sends one
/// message per row, and forwarding each alone costs a syscall per row.
pub const SEND_BYTES: usize = 256 * 1024;

pub struct TableCopy<'a> {
    pub table: &'a TenantTable,
    pub website: WebsiteId,
    pub migration: MigrationId,
    /// The attempt copying: each chunk commits only while it owns the move.
    pub attempt: i32,
    pub batch_rows: u32,
    /// `work_mem` for the source session, e.g. "256MB".
    pub sort_memory: &'a str,
    /// A self-referencing table copied in chunks, its links filled in after
    /// (see `two_passes`).
    pub links_later: bool,
}

/// A self-referencing table this many chunks long or shorter goes as one chunk
/// with its links inline: a second pass rewrites every linked row, which costs
/// more than it saves on a small tree. Longer trees go in bounded chunks.
const TREE_CHUNKS_IN_ONE: i64 = 10;

/// Whether a self-referencing table of `rows` rows is copied (and deleted) in
/// two passes: rows in chunks with their links NULL, then the links.
pub fn two_passes(table: &TenantTable, rows: i64, batch_rows: u32) -> bool {
    table.links_later() && rows > TREE_CHUNKS_IN_ONE * i64::from(batch_rows)
}

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

impl Mover {
    /// Copies every table from its checkpoint; an offline move fences the
    /// source first (an online one captures changes instead, already).
    pub(crate) async fn copy_all(
        &self,
        attempt: &mut Attempt<'_>,
        source: &PgPool,
        target: &PgPool,
        fenced: bool,
    ) -> Result<(), MoveError> {
        let record = attempt.record.clone();
        let current = self.current_shard(record.website).await?;
        if current != record.source {
            return Err(MoveError::SourceChanged {
                website: record.website,
                expected: record.source.clone(),
                actual: current.to_string(),
            });
        }
        let plan = self.plan(attempt, source, target).await?;
        shard_schema::ensure(source).await?;
        shard_schema::ensure(target).await?;
        owner_token::claim(target, record.id, attempt.token).await?;
        if fenced {
            fence::raise(
                source,
                &record.source,
                record.website,
                record.id,
                &plan,
                &self.fence_options(),
            )
            .await?;
            tracing::debug!("fenced; copying");
        }
        let already = {
            let mut conn = self.control_conn().await?;
            tables::list(&mut conn, record.id)
                .await
                .context(|| "reading the plan".into())?
        };
        let total: i64 = already.iter().map(|t| t.rows_total).sum();
        attempt.tracker.set_totals(total as u64, 0);
        let (mut source_conn, mut target_conn) = connect(source, target).await?;
        for table in &plan {
            let job = TableCopy {
                table,
                website: record.website,
                migration: record.id,
                attempt: attempt.token,
                batch_rows: record.batch_rows,
                sort_memory: &self.settings.engine.sort_memory,
                links_later: two_passes(table, planned_rows(&already, table), record.batch_rows),
            };
            copy_table(
                &mut source_conn,
                &mut target_conn,
                &job,
                &mut attempt.tracker,
            )
            .await?;
        }
        Ok(())
    }
}

fn planned_rows(planned: &[tables::TableProgress], table: &TenantTable) -> i64 {
    let name = table.name.to_string();
    planned
        .iter()
        .find(|t| t.name == name)
        .map_or(0, |t| t.rows_total)
}

//! Phase 3: streams one table's rows for one website from the source to the
//! target with binary COPY, cut into chunks. Each chunk commits together with
//! its checkpoint on the target, so a resumed copy neither repeats nor skips rows.

use bytes::{Buf, BytesMut};
use futures_util::StreamExt;
use sqlx::{Connection, PgConnection, PgPool, Row};
use tokio::sync::mpsc;

use super::catalog::{TenantTable, tenant_filter};
use super::copy_format::{self, HEADER, Next, TRAILER};
use super::error::{Context, MoveError};
use super::progress::Tracker;
use crate::db::bypass_fence;
use crate::ids::{MigrationId, WebsiteId};

/// Bytes gathered before handing them to the target socket: COPY OUT sends one
/// message per row, and forwarding each alone costs a syscall per row.
pub const SEND_BYTES: usize = 256 * 1024;

pub struct TableCopy<'a> {
    pub table: &'a TenantTable,
    pub key_column: &'a str,
    pub website: WebsiteId,
    pub migration: MigrationId,
    pub batch_rows: u32,
    /// `work_mem` for the source session, e.g. "256MB".
    pub sort_memory: &'a str,
}

#[derive(Debug, Default, Clone, Copy)]
struct Checkpoint {
    rows_done: i64,
    chunks_done: i32,
    finished: bool,
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
    let checkpoint = read_checkpoint(target_conn, job.migration, &name).await?;
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
    let mut stream = source_conn
        .copy_out_raw(&read_sql(job, checkpoint.rows_done))
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
    let rows = written?.rows_done as u64;
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
    // one statement defers those checks to its end, so such a table is one chunk.
    let chunk_limit = if job.table.self_referencing {
        u64::MAX
    } else {
        u64::from(job.batch_rows)
    };
    let writing = || format!("writing {name} to the target");
    let mut reader = RowReader::default();
    while !reader.ended {
        let mut tx = target
            .begin()
            .await
            .context(|| "opening a target transaction".into())?;
        bypass_fence(&mut tx)
            .await
            .context(|| "opening a target transaction".into())?;
        let mut sink = tx
            .copy_in_raw(&write_sql(job.table))
            .await
            .context(writing)?;
        sink.send(&HEADER[..]).await.context(writing)?;
        let mut chunk_rows = 0u64;
        loop {
            let (rows, ready) = reader.take_rows(chunk_limit - chunk_rows)?;
            chunk_rows += rows;
            if ready >= SEND_BYTES || reader.ended || chunk_rows == chunk_limit {
                sink.send(reader.buf.split_to(ready))
                    .await
                    .context(writing)?;
                reader.sent(ready);
                tracker
                    .add_rows(rows_unreported(&mut reader), false)
                    .await?;
            }
            if reader.ended || chunk_rows == chunk_limit {
                break;
            }
            match incoming.recv().await {
                Some(bytes) => {
                    reader.push(&bytes.context(|| format!("reading {name} from the source"))?)?
                }
                None => {
                    return Err(MoveError::CopyFormat(
                        name,
                        "the source stream ended before its trailer".into(),
                    ));
                }
            }
        }
        sink.send(&TRAILER[..]).await.context(writing)?;
        sink.finish().await.context(writing)?;
        checkpoint.rows_done += chunk_rows as i64;
        checkpoint.chunks_done += 1;
        checkpoint.finished = reader.ended;
        write_checkpoint(&mut tx, job.migration, &name, checkpoint).await?;
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

fn read_sql(job: &TableCopy<'_>, offset: i64) -> String {
    // ORDER BY the key makes OFFSET mean the same rows on every attempt; the
    // fence guarantees the website's rows do not change in between.
    format!(
        "COPY (SELECT {cols} FROM {table} WHERE {filter} ORDER BY {pk} OFFSET {offset}) TO STDOUT (FORMAT binary)",
        cols = job.table.copy_column_list(),
        table = job.table.name.quoted(),
        filter = tenant_filter(job.key_column, job.website.get()),
        pk = job.table.primary_key_list(),
    )
}

fn write_sql(table: &TenantTable) -> String {
    format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        table.name.quoted(),
        table.copy_column_list()
    )
}

/// Buffers the source stream and finds complete rows in it.
#[derive(Default)]
struct RowReader {
    buf: BytesMut,
    header_done: bool,
    /// Bytes at the front of `buf` that are complete rows not yet sent.
    ready: usize,
    unreported: u64,
    ended: bool,
}

impl RowReader {
    fn push(&mut self, bytes: &[u8]) -> Result<(), MoveError> {
        self.buf.extend_from_slice(bytes);
        if !self.header_done {
            let header = copy_format::header_len(&self.buf)
                .map_err(|e| MoveError::CopyFormat("source".into(), e))?;
            if let Some(len) = header {
                self.buf.advance(len);
                self.header_done = true;
            }
        }
        Ok(())
    }

    /// Marks up to `max` more complete rows as ready; returns (rows found, ready bytes).
    fn take_rows(&mut self, max: u64) -> Result<(u64, usize), MoveError> {
        let mut rows = 0;
        while self.header_done && !self.ended && rows < max {
            match copy_format::next(&self.buf[self.ready..])
                .map_err(|e| MoveError::CopyFormat("source".into(), e))?
            {
                Next::Row(len) => {
                    self.ready += len;
                    rows += 1;
                }
                Next::End => self.ended = true,
                Next::Incomplete => break,
            }
        }
        self.unreported += rows;
        Ok((rows, self.ready))
    }

    fn sent(&mut self, bytes: usize) {
        self.ready -= bytes;
        if self.ended && self.ready == 0 {
            self.buf.clear(); // only the source's trailer is left
        }
    }
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

async fn read_checkpoint(
    target: &mut PgConnection,
    migration: MigrationId,
    table: &str,
) -> Result<Checkpoint, MoveError> {
    let row = sqlx::query(
        "SELECT rows_done, chunks_done, finished FROM shardmover.copy_checkpoints
          WHERE migration_id = $1 AND table_name = $2",
    )
    .bind(migration.0)
    .bind(table)
    .fetch_optional(target)
    .await
    .context(|| format!("reading the copy checkpoint of {table}"))?;
    Ok(row.map_or_else(Checkpoint::default, |r| Checkpoint {
        rows_done: r.get("rows_done"),
        chunks_done: r.get("chunks_done"),
        finished: r.get("finished"),
    }))
}

async fn write_checkpoint(
    conn: &mut PgConnection,
    migration: MigrationId,
    table: &str,
    at: Checkpoint,
) -> Result<(), MoveError> {
    sqlx::query(
        "INSERT INTO shardmover.copy_checkpoints (migration_id, table_name, rows_done, chunks_done, finished)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (migration_id, table_name) DO UPDATE
            SET rows_done = EXCLUDED.rows_done, chunks_done = EXCLUDED.chunks_done,
                finished = EXCLUDED.finished, updated_at = now()",
    )
    .bind(migration.0)
    .bind(table)
    .bind(at.rows_done)
    .bind(at.chunks_done)
    .bind(at.finished)
    .execute(conn)
    .await
    .context(|| format!("writing the copy checkpoint of {table}"))?;
    Ok(())
}

/// Forgets a move's checkpoints on the target (after cutover or rollback).
pub async fn clear_checkpoints(target: &PgPool, migration: MigrationId) -> Result<(), MoveError> {
    sqlx::query("DELETE FROM shardmover.copy_checkpoints WHERE migration_id = $1")
        .bind(migration.0)
        .execute(target)
        .await
        .context(|| "clearing copy checkpoints".into())?;
    Ok(())
}

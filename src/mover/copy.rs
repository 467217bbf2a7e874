//! Phase 3: streams one table's rows for one website from the source to the
//! target with binary COPY, cut into chunks. Each chunk commits together with
//! its checkpoint on the target, so a resumed copy neither repeats nor skips rows.

use bytes::{Buf, BytesMut};
use futures_util::StreamExt;
use sqlx::{Connection, PgConnection, PgPool, Row};

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
}

#[derive(Debug, Default, Clone, Copy)]
struct Checkpoint {
    rows_done: i64,
    chunks_done: i32,
    finished: bool,
}

/// Copies whatever the checkpoint says is still missing; returns rows now on the target.
pub async fn copy_table(
    source: &PgPool,
    target: &PgPool,
    job: &TableCopy<'_>,
    tracker: &mut Tracker<'_>,
) -> Result<u64, MoveError> {
    let name = job.table.name.to_string();
    let mut checkpoint = read_checkpoint(target, job.migration, &name).await?;
    tracker.start_table(&name, checkpoint.rows_done as u64);
    if checkpoint.finished {
        return Ok(checkpoint.rows_done as u64);
    }
    // Rows of a self-referencing table may point at rows later in key order;
    // one statement defers those checks to its end, so such a table is one chunk.
    let chunk_limit = if job.table.self_referencing {
        u64::MAX
    } else {
        u64::from(job.batch_rows)
    };
    // Both connections are detached from their pools: if anything fails mid-COPY
    // they are closed rather than handed back in an unusable protocol state.
    let mut source_conn = source
        .acquire()
        .await
        .context(|| "connecting to the source shard".into())?
        .detach();
    let mut target_conn = target
        .acquire()
        .await
        .context(|| "connecting to the target shard".into())?
        .detach();
    let mut stream = source_conn
        .copy_out_raw(&read_sql(job, checkpoint.rows_done))
        .await
        .context(|| format!("reading {name} from the source"))?;
    let mut reader = RowReader::default();
    while !reader.ended {
        let mut tx = target_conn
            .begin()
            .await
            .context(|| "opening a target transaction".into())?;
        bypass_fence(&mut tx)
            .await
            .context(|| "opening a target transaction".into())?;
        let mut sink = tx
            .copy_in_raw(&write_sql(job.table))
            .await
            .context(|| format!("writing {name} to the target"))?;
        sink.send(&HEADER[..])
            .await
            .context(|| format!("writing {name} to the target"))?;
        let mut chunk_rows = 0u64;
        loop {
            let (rows, ready) = reader.take_rows(chunk_limit - chunk_rows)?;
            chunk_rows += rows;
            if ready >= SEND_BYTES || reader.ended || chunk_rows == chunk_limit {
                sink.send(reader.buf.split_to(ready))
                    .await
                    .context(|| format!("writing {name} to the target"))?;
                reader.sent(ready);
                tracker
                    .add_rows(rows_unreported(&mut reader), false)
                    .await?;
            }
            if reader.ended || chunk_rows == chunk_limit {
                break;
            }
            match stream.next().await {
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
        sink.send(&TRAILER[..])
            .await
            .context(|| format!("writing {name} to the target"))?;
        sink.finish()
            .await
            .context(|| format!("writing {name} to the target"))?;
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
    // Read the stream to its end so the connection goes back to the pool usable.
    while let Some(bytes) = stream.next().await {
        bytes.context(|| format!("reading {name} from the source"))?;
    }
    Ok(checkpoint.rows_done as u64)
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

async fn read_checkpoint(
    target: &PgPool,
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

//! Verification of an online move's table at its copy's own snapshot. The copy
//! reads the table inside one repeatable-read transaction on the source and
//! exports that snapshot; a second source session imports it and fingerprints
//! the very rows the copy streams, while it streams them. Once the table's
//! copy has committed, and before catch-up replays anything onto it, the
//! target's rows are fingerprinted, while the next table copies.
//!
//! Equal fingerprints prove the target held exactly the source's rows as of
//! that snapshot. Capture was on before it was taken, so every row changed
//! since has a change row; catch-up replays it, which records its key as
//! touched, and touched keys are compared row by row before the cutover (in
//! the freeze at the latest). Every other row is the same on both sides now
//! as then. So this check replaces catch-up's bulk check of the table, and
//! the freeze still compares what changed. Unequal fingerprints prove nothing
//! on their own (the target's rows may have been written twice by a resumed
//! attempt, say): the table is left to catch-up's bulk check, which names the
//! differing key range.

use sqlx::{Acquire, PgConnection, PgPool, Row};

use super::{Fingerprint, RowHash, canonicalise, fingerprint_sql, lacks_hash_function};
use crate::ids::WebsiteId;
use crate::mover::error::{Context, MoveError};
use crate::sql::{audited, ident, literal_str};
use crate::tenancy::TenantTable;

/// A table's source fingerprint at its copy's snapshot, and how rows were hashed.
#[derive(Debug, Clone)]
pub struct AtSnapshot {
    pub table: String,
    pub hash: RowHash,
    pub source: Fingerprint,
}

/// Opens the caller's transaction as one repeatable-read snapshot and exports
/// it (the caller reads the table in it, and keeps it open until imported).
pub async fn export(tx: &mut PgConnection) -> Result<String, MoveError> {
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .context(|| "opening the copy's snapshot".into())?;
    sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut *tx)
        .await
        .context(|| "exporting the copy's snapshot".into())
}

/// How long the fingerprint's session waits for its table lock. The copy
/// waits for the fingerprint before ending its transaction, so a wait queued
/// behind the application's DDL (itself waiting for the copy) would never end:
/// past this the table is left to catch-up's bulk check instead.
const LOCK_WAIT: &str = "200ms";

/// The website's rows of `table` on the source as `snapshot` sees them; None
/// when the table's lock was not granted at once (see `LOCK_WAIT`).
pub async fn source_at(
    source: &PgPool,
    snapshot: &str,
    table: &TenantTable,
    website: WebsiteId,
) -> Result<Option<AtSnapshot>, MoveError> {
    let mut conn = source
        .acquire()
        .await
        .context(|| "connecting to the source shard".into())?;
    let mut tx = conn
        .begin()
        .await
        .context(|| "connecting to the source shard".into())?;
    let import = format!(
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;
         SET TRANSACTION SNAPSHOT {};
         SET LOCAL lock_timeout = '{LOCK_WAIT}'",
        literal_str(snapshot)
    );
    sqlx::raw_sql(audited(&import))
        .execute(&mut *tx)
        .await
        .context(|| "importing the copy's snapshot".into())?;
    canonicalise(&mut tx).await?;
    // A failed statement would end the snapshot's transaction: the typed hash
    // is tried inside a savepoint, the text form after it if a type lacks one.
    let mut attempt = tx
        .begin()
        .await
        .context(|| "checksumming on the source shard".into())?;
    let typed = fingerprint(&mut attempt, table, website, RowHash::Typed).await;
    let (hash, source) = match typed {
        Err(e) if lacks_hash_function(&e) => {
            drop(attempt);
            match fingerprint(&mut tx, table, website, RowHash::Text).await {
                Err(e) if lock_not_granted(&e) => return Ok(None),
                text => (RowHash::Text, text?),
            }
        }
        Err(e) if lock_not_granted(&e) => return Ok(None),
        other => (RowHash::Typed, other?),
    };
    Ok(Some(AtSnapshot {
        table: table.name.to_string(),
        hash,
        source,
    }))
}

fn lock_not_granted(error: &MoveError) -> bool {
    matches!(error, MoveError::Database { source, .. } if crate::db::is_lock_timeout(source))
}

/// The target's side, read once a table is copied: its fingerprint, and the
/// largest and smallest values of the columns that draw from sequences.
#[derive(Debug, Clone)]
pub struct Copied {
    pub fingerprint: Fingerprint,
    /// Per column asked for: (largest, smallest), None without rows.
    pub extremes: Vec<(Option<i64>, Option<i64>)>,
}

/// The website's rows of `table` on the target now, hashed as the source's
/// were; in the same scan, the extremes of `columns` (sequences are advanced
/// past them, so catch-up need not read the rows again for that).
pub async fn target_now(
    target: &PgPool,
    table: &TenantTable,
    website: WebsiteId,
    hash: RowHash,
    columns: &[String],
) -> Result<Copied, MoveError> {
    let mut tx = target
        .begin()
        .await
        .context(|| "connecting to the target shard".into())?;
    canonicalise(&mut tx).await?;
    let extra: String = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let c = ident(c);
            format!(", max(sm_t.{c})::int8 AS max_{i}, min(sm_t.{c})::int8 AS min_{i}")
        })
        .collect();
    let row = sqlx::query(audited(&fingerprint_sql(table, hash, &extra)))
        .bind(website.get())
        .fetch_one(&mut *tx)
        .await
        .context(|| format!("checksumming {} once copied", table.name))?;
    let extremes = (0..columns.len())
        .map(|i| {
            (
                row.get(format!("max_{i}").as_str()),
                row.get(format!("min_{i}").as_str()),
            )
        })
        .collect();
    Ok(Copied {
        fingerprint: Fingerprint {
            rows: row.get("n"),
            checksum: row.get("sum"),
        },
        extremes,
    })
}

async fn fingerprint(
    conn: &mut PgConnection,
    table: &TenantTable,
    website: WebsiteId,
    hash: RowHash,
) -> Result<Fingerprint, MoveError> {
    let row = sqlx::query(audited(&fingerprint_sql(table, hash, "")))
        .bind(website.get())
        .fetch_one(&mut *conn)
        .await
        .context(|| format!("checksumming {} at the copy's snapshot", table.name))?;
    Ok(Fingerprint {
        rows: row.get("n"),
        checksum: row.get("sum"),
    })
}

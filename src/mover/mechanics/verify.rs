//! Phase 4: proves the target holds exactly the source's rows. Both shards compute,
//! in parallel and inside the database, a row count and an order-independent
//! checksum: the exact sum of a 64-bit hash of every row (`sum` of `int8`
//! adds in 128 bits and returns numeric: no overflow, and no numeric
//! arithmetic per row). The hash is
//! `hash_record_extended`, built from each type's extended hash function, which
//! Postgres keeps stable across versions for hash partitioning; a table with a
//! column type lacking one (json, point, ...) falls back to hashing the row's
//! canonical text form. Only when the sums differ are per-chunk checksums
//! computed, to name the key range.

pub(crate) mod at_copy;
pub(crate) mod online;

use sqlx::{PgPool, Row};

use crate::ids::WebsiteId;
use crate::mover::error::{Context, MoveError};
use crate::sql::audited;
use crate::tenancy::TenantTable;

/// Output settings that make `row::text` identical on both servers.
const CANONICAL: &[(&str, &str)] = &[
    ("TimeZone", "UTC"),
    ("DateStyle", "ISO, YMD"),
    ("IntervalStyle", "postgres"),
    ("extra_float_digits", "1"),
    ("bytea_output", "hex"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub rows: i64,
    pub checksum: String,
}

impl Fingerprint {
    pub fn display(&self) -> String {
        format!("{}:{}", self.rows, self.checksum)
    }
}

/// Fingerprints the table on both shards at once.
pub async fn compare(
    source: &PgPool,
    target: &PgPool,
    table: &TenantTable,
    website: WebsiteId,
    chunk_rows: u32,
) -> Result<(Fingerprint, Fingerprint), MoveError> {
    let mut hash = RowHash::Typed;
    let (src, dst) = loop {
        let sql = fingerprint_sql(table, hash, "");
        let both = tokio::try_join!(
            fingerprint(source, &sql, website, "source"),
            fingerprint(target, &sql, website, "target"),
        );
        match both {
            Err(e) if hash == RowHash::Typed && lacks_hash_function(&e) => hash = RowHash::Text,
            other => break other?,
        }
    };
    if src != dst {
        let sides = Sides {
            source,
            target,
            table,
            website,
            hash,
        };
        let detail = locate(&sides, chunk_rows, &src, &dst, &[]).await?;
        return Err(MoveError::ChecksumMismatch {
            table: table.name.to_string(),
            detail,
        });
    }
    Ok((src, dst))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowHash {
    Typed,
    Text,
}

/// The row's hash over its copied columns, named (column order may differ
/// between the shards). A column whose type hashes differently on another
/// database (an enum is hashed by its oid) goes in as its text.
pub(crate) fn row_hash(table: &TenantTable, hash: RowHash) -> String {
    let cols = table
        .columns
        .iter()
        .filter(|c| !c.generated)
        .map(|c| {
            let name = crate::sql::ident(&c.name);
            if c.portable_hash {
                format!("sm_t.{name}")
            } else {
                format!("sm_t.{name}::text")
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    match hash {
        RowHash::Typed => format!("hash_record_extended(ROW({cols}), 0)"),
        RowHash::Text => format!("hashtextextended(ROW({cols})::text, 0)"),
    }
}

/// "could not identify an extended hash function for type …" (undefined_function).
pub(crate) fn lacks_hash_function(error: &MoveError) -> bool {
    match error {
        MoveError::Database {
            source: sqlx::Error::Database(db),
            ..
        } => db.code().as_deref() == Some("42883"),
        _ => false,
    }
}

/// The fingerprint's query; `extra` adds more aggregates over the same rows.
pub(crate) fn fingerprint_sql(table: &TenantTable, hash: RowHash, extra: &str) -> String {
    format!(
        "SELECT count(*)::int8 AS n, coalesce(sum({hash}), 0)::text AS sum{extra} FROM {table} sm_t WHERE {mine}",
        hash = row_hash(table, hash),
        table = table.name.quoted(),
        mine = table.belongs("sm_t", "$1"),
    )
}

async fn fingerprint(
    pool: &PgPool,
    sql: &str,
    website: WebsiteId,
    side: &str,
) -> Result<Fingerprint, MoveError> {
    let mut tx = pool
        .begin()
        .await
        .context(|| format!("connecting to the {side} shard"))?;
    canonicalise(&mut tx).await?;
    let row = sqlx::query(audited(sql))
        .bind(website.get())
        .fetch_one(&mut *tx)
        .await
        .context(|| format!("checksumming on the {side} shard"))?;
    Ok(Fingerprint {
        rows: row.get("n"),
        checksum: row.get("sum"),
    })
}

/// Sets `CANONICAL` for the caller's transaction, in one round trip (it
/// precedes every checksum and every replayed batch).
pub(crate) async fn canonicalise(conn: &mut sqlx::PgConnection) -> Result<(), MoveError> {
    let (names, values): (Vec<&str>, Vec<&str>) = CANONICAL.iter().copied().unzip();
    sqlx::query("SELECT set_config(n, v, true) FROM unnest($1::text[], $2::text[]) AS s(n, v)")
        .bind(names)
        .bind(values)
        .execute(&mut *conn)
        .await
        .context(|| "setting the output settings for checksums".into())?;
    Ok(())
}

pub(crate) struct Sides<'a> {
    pub source: &'a PgPool,
    pub target: &'a PgPool,
    pub table: &'a TenantTable,
    pub website: WebsiteId,
    pub hash: RowHash,
}

/// Names the first chunk (in key order) whose rows differ, leaving out the rows
/// whose keys (JSON objects, as the change log records them) are `excluded`.
pub(crate) async fn locate(
    sides: &Sides<'_>,
    chunk_rows: u32,
    src: &Fingerprint,
    dst: &Fingerprint,
    excluded: &[String],
) -> Result<String, MoveError> {
    let Sides {
        source,
        target,
        table,
        website,
        hash,
    } = *sides;
    let sql = format!(
        "SELECT chunk, count(*)::int8 AS n, sum(h)::text AS sum,
                (array_agg(k ORDER BY rn))[1] AS first_key, (array_agg(k ORDER BY rn DESC))[1] AS last_key
           FROM (SELECT (row_number() OVER (ORDER BY {pk}) - 1) / $2 AS chunk,
                        row_number() OVER (ORDER BY {pk}) AS rn,
                        ROW({pk})::text AS k, {hash} AS h
                   FROM {table} sm_t WHERE {mine} AND {not_excluded}) s
          GROUP BY chunk ORDER BY chunk",
        pk = table.primary_key_list(),
        hash = row_hash(table, hash),
        table = table.name.quoted(),
        mine = table.belongs("sm_t", "$1"),
        not_excluded = table.key_not_in("sm_t", "$3"),
    );
    let (a, b) = tokio::try_join!(
        chunks(source, &sql, website, chunk_rows, excluded),
        chunks(target, &sql, website, chunk_rows, excluded)
    )?;
    let summary = format!("source {} rows, target {} rows", src.rows, dst.rows);
    for (index, left) in a.iter().enumerate() {
        if b.get(index) != Some(left) {
            return Ok(format!(
                "{summary}; first difference in chunk {index} (rows {}..{}), keys {} to {}",
                index as u64 * u64::from(chunk_rows),
                index as u64 * u64::from(chunk_rows) + left.0 as u64,
                left.2,
                left.3
            ));
        }
    }
    Ok(format!(
        "{summary}; the target has rows after the source's last key"
    ))
}

type Chunk = (i64, String, String, String);

async fn chunks(
    pool: &PgPool,
    sql: &str,
    website: WebsiteId,
    chunk_rows: u32,
    excluded: &[String],
) -> Result<Vec<Chunk>, MoveError> {
    let mut tx = pool
        .begin()
        .await
        .context(|| "connecting for chunk checksums".into())?;
    canonicalise(&mut tx).await?;
    let rows = sqlx::query(audited(sql))
        .bind(website.get())
        .bind(i64::from(chunk_rows))
        .bind(excluded)
        .fetch_all(&mut *tx)
        .await
        .context(|| "computing chunk checksums".into())?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get("n"),
                r.get("sum"),
                r.get("first_key"),
                r.get("last_key"),
            )
        })
        .collect())
}

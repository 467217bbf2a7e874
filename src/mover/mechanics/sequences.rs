//! Sequences owned by a tenant table's columns (serial or identity) on the
//! target, advanced past the largest value this move brought there — so the
//! website's next insert on its new shard cannot reuse a key it already holds.
//!
//! An offline move advances them at cutover over all the website's rows. An
//! online one does that once before catch-up (outside the freeze) and then, in
//! each replayed batch's own transaction, past the rows that batch wrote: the
//! freeze never scans the tenant for a maximum.

use sqlx::{PgConnection, PgPool, Row};

use crate::ids::WebsiteId;
use crate::mover::error::{Context, MoveError};
use crate::sql::{audited, ident};
use crate::tenancy::TenantTable;

/// A sequence and the column of a tenant table that draws from it.
#[derive(Debug, Clone)]
pub struct OwnedSequence {
    /// As `regclass` text, for `setval`.
    pub sequence: String,
    pub column: String,
}

/// The sequences `table`'s columns draw from on `target`: owned ones (serial,
/// identity) and any a column's default calls `nextval` on (created by hand,
/// or shared by several tables).
pub async fn owned(target: &PgPool, table: &TenantTable) -> Result<Vec<OwnedSequence>, MoveError> {
    let rows = sqlx::query(
        "SELECT s.oid::regclass::text AS sequence, a.attname AS column_name
           FROM pg_depend d
           JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
           JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
          WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
            AND d.refobjid = to_regclass($1) AND d.deptype IN ('a', 'i')
         UNION
         SELECT s.oid::regclass::text, a.attname
           FROM pg_attrdef ad
           JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
                           AND d.refclassid = 'pg_class'::regclass
           JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
           JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
          WHERE ad.adrelid = to_regclass($1)
          ORDER BY 1",
    )
    .bind(table.name.quoted())
    .fetch_all(target)
    .await
    .context(|| format!("listing the sequences of {}", table.name))?;
    Ok(rows
        .into_iter()
        .map(|row| OwnedSequence {
            sequence: row.get("sequence"),
            column: row.get("column_name"),
        })
        .collect())
}

/// Moves `sequence` forward to `m` when it is behind, never backwards: a
/// concurrent `nextval` of the target's own tenants keeps what it drew. A
/// descending sequence goes forward too: down, past the smallest value.
/// `{agg}` in `extreme` stands for `max` or `min`, whichever the sequence's
/// direction needs (only that one runs).
fn forward(extreme: &str) -> String {
    format!(
        "SELECT setval($1::regclass, m)
           FROM (SELECT CASE WHEN s.seqincrement > 0 THEN ({max}) ELSE ({min}) END::int8 AS m,
                        s.seqincrement AS inc
                   FROM pg_sequence s WHERE s.seqrelid = $1::regclass) x
          WHERE CASE WHEN inc > 0 THEN m > coalesce(pg_sequence_last_value($1::regclass), 0)
                     ELSE m < coalesce(pg_sequence_last_value($1::regclass), 0) END",
        max = extreme.replace("{agg}", "max"),
        min = extreme.replace("{agg}", "min"),
    )
}

/// Every owned sequence past the website's largest value on the target (reads
/// all of the website's rows of each such table: kept out of any freeze).
pub async fn advance(
    target: &PgPool,
    tables: &[TenantTable],
    website: WebsiteId,
) -> Result<u32, MoveError> {
    let mut advanced = 0;
    for table in tables {
        for owned in owned(target, table).await? {
            let extreme = format!(
                "SELECT {{agg}}(sm_t.{col}) FROM {table} sm_t WHERE {mine}",
                col = ident(&owned.column),
                table = table.name.quoted(),
                mine = table.belongs("sm_t", "$2"),
            );
            sqlx::query(audited(&forward(&extreme)))
                .bind(&owned.sequence)
                .bind(website.get())
                .execute(target)
                .await
                .context(|| format!("advancing sequence {}", owned.sequence))?;
            advanced += 1;
        }
    }
    Ok(advanced)
}

/// `sequence` past a column's (largest, smallest) values, already known (read
/// with the copied rows' fingerprint): no rows are read.
pub async fn advance_to(
    target: &PgPool,
    sequence: &OwnedSequence,
    (largest, smallest): (Option<i64>, Option<i64>),
) -> Result<(), MoveError> {
    let extreme = "SELECT {agg}(v) FROM unnest($2::int8[]) v";
    sqlx::query(audited(&forward(extreme)))
        .bind(&sequence.sequence)
        .bind(vec![largest, smallest])
        .execute(target)
        .await
        .context(|| format!("advancing sequence {}", sequence.sequence))?;
    Ok(())
}

/// Every owned sequence of `table` past the rows just written (given as the
/// table's row text), in the caller's transaction.
pub async fn advance_past_rows(
    tx: &mut PgConnection,
    table: &TenantTable,
    sequences: &[OwnedSequence],
    rows: &[String],
) -> Result<(), MoveError> {
    for owned in sequences {
        let extreme = format!(
            "SELECT {{agg}}((json_populate_record(NULL::{table}, sm_r::json)).{col}) FROM unnest($2::text[]) sm_r",
            col = ident(&owned.column),
            table = table.name.quoted(),
        );
        sqlx::query(audited(&forward(&extreme)))
            .bind(&owned.sequence)
            .bind(rows)
            .execute(&mut *tx)
            .await
            .context(|| format!("advancing sequence {}", owned.sequence))?;
    }
    Ok(())
}

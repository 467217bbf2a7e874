//! Referential integrity of the website's rows on the target. shardmover's
//! sessions write as replicas where they may (so the application's triggers do
//! not fire twice), which also turns foreign-key checks off: a row pointing at
//! a global row the target lacks (a user, a plan) would arrive silently. So
//! before cutover every foreign key of every plan table is checked over the
//! website's rows on the target, as Postgres would have.

use futures_util::{StreamExt, TryStreamExt};
use sqlx::{PgPool, Row};

use crate::ids::WebsiteId;
use crate::mover::error::{Context, MoveError};
use crate::sql::{audited, ident};
use crate::tenancy::{TenantTable, qualified};

/// Fails with `DanglingReferences` naming each foreign key some of the
/// website's target rows break, with a count and one example. `rows` holds
/// the website's rows of each table of `plan` (as planned: it only chooses
/// how each check reads).
pub async fn check(
    target: &PgPool,
    plan: &[TenantTable],
    rows: &[i64],
    website: WebsiteId,
) -> Result<(), MoveError> {
    let mut checks = Vec::new();
    for (index, table) in plan.iter().enumerate() {
        let rows = rows.get(index).copied().unwrap_or_default();
        for fk in foreign_keys(target, table).await? {
            checks.push(broken_by(target, table, (fk, rows), website));
        }
    }
    // Each is a scan of the website's rows of one table: a few at once, on
    // connections of their own, so the check costs the longest rather than
    // the sum (the move is otherwise idle while it runs).
    let broken: Vec<Option<String>> = futures_util::stream::iter(checks)
        .buffered(AT_ONCE)
        .try_collect()
        .await?;
    let broken: Vec<String> = broken.into_iter().flatten().collect();
    if broken.is_empty() {
        Ok(())
    } else {
        Err(MoveError::DanglingReferences(broken.join("; ")))
    }
}

/// Foreign keys checked at once.
const AT_ONCE: usize = 2;
/// A parent of up to this many times the website's rows is hashed whole.
const HASHED_PARENT_FACTOR: i64 = 4;
/// Planner methods turned off (in the check's transaction) for each plan:
/// the hashed parent joined to the website's rows read in physical order, or
/// the distinct keys gathered by hashing (not sorted and spilled) and probed.
const HASHED: &[&str] = &["enable_nestloop", "enable_mergejoin", "enable_indexscan"];
const PROBED: &[&str] = &["enable_sort"];

/// What the website's rows of `table` (`rows` of them) on the target break of
/// `fk`, if anything. Right after a copy the target's statistics still
/// describe its tables before it, so the planner would probe the parent's
/// index once per row, each probe also reading the parent's heap (its
/// visibility map not yet set): seconds for an order table. So the plan is
/// chosen here: a parent no larger than a few times the website's rows is
/// hashed once and the rows checked against it; a larger one (a global table
/// of every user) is probed once per distinct key.
async fn broken_by(
    target: &PgPool,
    table: &TenantTable,
    (fk, rows): (ForeignKey, i64),
    website: WebsiteId,
) -> Result<Option<String>, MoveError> {
    let hashed = fk.parent_rows <= rows.saturating_mul(HASHED_PARENT_FACTOR);
    let cols = qualified("sm_t", &fk.columns);
    let all_set = fk
        .columns
        .iter()
        .map(|c| format!("sm_t.{} IS NOT NULL", ident(c)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let (table_name, mine) = (table.name.quoted(), table.belongs("sm_t", "$1"));
    let rows_sql = if hashed {
        format!("{table_name} sm_t WHERE {mine} AND {all_set} AND")
    } else {
        format!(
            "(SELECT DISTINCT {cols} FROM {table_name} sm_t WHERE {mine} AND {all_set}) sm_t WHERE"
        )
    };
    let sql = format!(
        "SELECT count(DISTINCT ROW({cols}))::int8 AS n, min(ROW({cols})::text) AS sample
           FROM {rows_sql} NOT EXISTS (SELECT 1 FROM {parent} sm_p WHERE ({pcols}) = ({cols}))",
        pcols = qualified("sm_p", &fk.parent_columns),
        parent = fk.parent,
    );
    let checking = || format!("checking {} of {} on the target", fk.name, table.name);
    let mut tx = target.begin().await.context(checking)?;
    let settings = if hashed { HASHED } else { PROBED };
    for setting in settings {
        sqlx::query("SELECT set_config($1, 'off', true)")
            .bind(setting)
            .execute(&mut *tx)
            .await
            .context(checking)?;
    }
    let row = sqlx::query(audited(&sql))
        .bind(website.get())
        .fetch_one(&mut *tx)
        .await
        .context(checking)?;
    let count: i64 = row.get("n");
    if count == 0 {
        return Ok(None);
    }
    let sample: Option<String> = row.get("sample");
    Ok(Some(format!(
        "{} ({}): rows point at {count} row(s) of {} the target lacks, e.g. {}",
        table.name,
        fk.name,
        fk.parent,
        sample.unwrap_or_default()
    )))
}

struct ForeignKey {
    name: String,
    columns: Vec<String>,
    /// Quoted `schema.table`.
    parent: String,
    /// The parent's rows as the catalogue estimates them (at least its size
    /// over 100 bytes a row, when it was never analysed).
    parent_rows: i64,
    parent_columns: Vec<String>,
}

/// The target's foreign keys of `table` (partitions' clones left out).
async fn foreign_keys(target: &PgPool, table: &TenantTable) -> Result<Vec<ForeignKey>, MoveError> {
    let rows = sqlx::query(
        "SELECT c.conname::text AS name, format('%I.%I', n.nspname, p.relname) AS parent,
                greatest(p.reltuples::int8, pg_relation_size(p.oid) / 100) AS parent_rows,
                ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
                        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                       ORDER BY k.o) AS columns,
                ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, o)
                        JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n
                       ORDER BY k.o) AS parent_columns
           FROM pg_constraint c
           JOIN pg_class p ON p.oid = c.confrelid JOIN pg_namespace n ON n.oid = p.relnamespace
          WHERE c.contype = 'f' AND c.conparentid = 0 AND c.conrelid = to_regclass($1)
          ORDER BY 1",
    )
    .bind(table.name.quoted())
    .fetch_all(target)
    .await
    .context(|| format!("reading the foreign keys of {}", table.name))?;
    Ok(rows
        .iter()
        .map(|r| ForeignKey {
            name: r.get("name"),
            columns: r.get("columns"),
            parent: r.get("parent"),
            parent_rows: r.get("parent_rows"),
            parent_columns: r.get("parent_columns"),
        })
        .collect())
}

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
/// website's target rows break, with a count and one example.
pub async fn check(
    target: &PgPool,
    plan: &[TenantTable],
    website: WebsiteId,
) -> Result<(), MoveError> {
    let mut checks = Vec::new();
    for table in plan {
        for fk in foreign_keys(target, table).await? {
            checks.push(broken_by(target, table, fk, website));
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

/// What the website's rows of `table` on the target break of `fk`, if anything.
/// Each distinct key is looked up once (an order table references a few
/// products many times over), gathered by hashing: right after a copy the
/// target's statistics still describe the table before it, so the planner
/// would otherwise sort the keys as if there were a handful and spill to disk.
async fn broken_by(
    target: &PgPool,
    table: &TenantTable,
    fk: ForeignKey,
    website: WebsiteId,
) -> Result<Option<String>, MoveError> {
    let sql = format!(
        "SELECT count(*)::int8 AS n, min(ROW({cols})::text) AS sample
           FROM (SELECT DISTINCT {cols} FROM {table} sm_t WHERE {mine} AND {all_set}) sm_t
          WHERE NOT EXISTS (SELECT 1 FROM {parent} sm_p WHERE ({pcols}) = ({cols}))",
        table = table.name.quoted(),
        mine = table.belongs("sm_t", "$1"),
        cols = qualified("sm_t", &fk.columns),
        pcols = qualified("sm_p", &fk.parent_columns),
        parent = fk.parent,
        all_set = fk
            .columns
            .iter()
            .map(|c| format!("sm_t.{} IS NOT NULL", ident(c)))
            .collect::<Vec<_>>()
            .join(" AND "),
    );
    let checking = || format!("checking {} of {} on the target", fk.name, table.name);
    let mut tx = target.begin().await.context(checking)?;
    sqlx::query("SELECT set_config('enable_sort', 'off', true)")
        .execute(&mut *tx)
        .await
        .context(checking)?;
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
    parent_columns: Vec<String>,
}

/// The target's foreign keys of `table` (partitions' clones left out).
async fn foreign_keys(target: &PgPool, table: &TenantTable) -> Result<Vec<ForeignKey>, MoveError> {
    let rows = sqlx::query(
        "SELECT c.conname::text AS name, format('%I.%I', n.nspname, p.relname) AS parent,
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
            parent_columns: r.get("parent_columns"),
        })
        .collect())
}

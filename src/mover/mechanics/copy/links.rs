//! The second pass of a self-referencing table copied in chunks: its rows went
//! over with their self-references NULL (in key order a child may come before
//! its parent, and each chunk is its own statement); now the references are
//! filled in, in key order, in bounded batches, each its own target
//! transaction. Idempotent, so a resumed copy simply does the pass again.

use sqlx::{Connection, PgConnection};

use super::job::TableCopy;
use crate::db::bypass_fence;
use crate::mover::error::{Context, MoveError};
use crate::sql::{audited, ident, literal_str};
use crate::tenancy::TenantTable;

pub async fn fill_in(
    source: &mut PgConnection,
    target: &mut PgConnection,
    job: &TableCopy<'_>,
) -> Result<(), MoveError> {
    let table = job.table;
    let (first, next) = (read_sql(job, false), read_sql(job, true));
    let update = update_sql(job);
    let reading = || format!("reading the self-references of {}", table.name);
    let writing = || format!("filling in the self-references of {}", table.name);
    let mut after: Option<String> = None;
    loop {
        let query = match &after {
            None => sqlx::query_as(audited(&first)),
            Some(key) => sqlx::query_as(audited(&next)).bind(key.clone()),
        };
        let rows: Vec<(String, String)> = query
            .bind(i64::from(job.batch_rows))
            .fetch_all(&mut *source)
            .await
            .context(reading)?;
        let Some((last, _)) = rows.last() else {
            return Ok(());
        };
        after = Some(last.clone());
        let (keys, links): (Vec<String>, Vec<String>) = rows.into_iter().unzip();
        match link(target, &update, &keys, &links).await {
            Err(e) if is_foreign_key_violation(&e) => {
                // Online, a row may now reference a parent written after the
                // copy read it: that row's change is captured, and catch-up
                // sets its link once the parent is there. Link the rest.
                for (key, row_links) in keys.iter().zip(&links) {
                    match link(
                        target,
                        &update,
                        std::slice::from_ref(key),
                        std::slice::from_ref(row_links),
                    )
                    .await
                    {
                        Err(e) if is_foreign_key_violation(&e) => {}
                        other => other.context(writing)?,
                    }
                }
            }
            other => other.context(writing)?,
        }
        if keys.len() < job.batch_rows as usize {
            return Ok(());
        }
    }
}

async fn link(
    target: &mut PgConnection,
    update: &str,
    keys: &[String],
    links: &[String],
) -> Result<(), sqlx::Error> {
    let mut tx = target.begin().await?;
    bypass_fence(&mut tx).await?;
    sqlx::query(audited(update))
        .bind(keys)
        .bind(links)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("23503"))
}

/// The website's rows with a self-reference set, in key order, `$1` at a time
/// (after the key `$2` for `resume`), as (key, references) JSON objects.
fn read_sql(job: &TableCopy<'_>, resume: bool) -> String {
    let table = job.table;
    let pk = table.primary_key_list();
    let (limit, after) = if resume {
        (
            "$2",
            format!(
                " AND ({pk}) > (SELECT {pk} FROM jsonb_populate_record(NULL::{}, $1::jsonb))",
                table.name.quoted()
            ),
        )
    } else {
        ("$1", String::new())
    };
    format!(
        "SELECT {keys}::text, {links}::text FROM {name} sm_t
          WHERE {filter} AND ({set}){after} ORDER BY {pk} LIMIT {limit}",
        keys = table.key_object("sm_t."),
        links = links_object(table),
        name = table.name.quoted(),
        filter = table.belongs("sm_t", &crate::sql::literal_i64(job.website.get())),
        set = table
            .self_keys
            .iter()
            .map(|k| format!("{} IS NOT NULL", ident(k)))
            .collect::<Vec<_>>()
            .join(" OR "),
    )
}

fn links_object(table: &TenantTable) -> String {
    let pairs = table
        .self_keys
        .iter()
        .map(|k| format!("{}, {}", literal_str(k), ident(k)))
        .collect::<Vec<_>>()
        .join(", ");
    format!("jsonb_build_object({pairs})")
}

fn update_sql(job: &TableCopy<'_>) -> String {
    let table = job.table;
    let name = table.name.quoted();
    let set = table
        .self_keys
        .iter()
        .map(|k| format!("{0} = (s.vr).{0}", ident(k)))
        .collect::<Vec<_>>()
        .join(", ");
    // Rows found by one primary-key lookup each (OFFSET 0: not a join the
    // planner could lead with the website's column, whose statistics are
    // stale right after the copy), then updated by their row address.
    format!(
        "UPDATE {name} sm_t SET {set}
           FROM (SELECT r.tableoid, r.ctid, u.vr
                   FROM (SELECT jsonb_populate_record(NULL::{name}, k::jsonb) AS kr,
                                jsonb_populate_record(NULL::{name}, v::jsonb) AS vr
                           FROM unnest($1::text[], $2::text[]) u(k, v)) u
                  CROSS JOIN LATERAL (SELECT x.tableoid, x.ctid, {key} AS w FROM {name} x
                                       WHERE {same_key} OFFSET 0) r
                  WHERE r.w = {website}) s
          WHERE sm_t.ctid = s.ctid AND sm_t.tableoid = s.tableoid",
        same_key = table.same_key("x", "(u.kr)"),
        key = table.website_of("x"),
        website = crate::sql::literal_i64(job.website.get()),
    )
}

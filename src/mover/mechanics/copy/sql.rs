//! The SQL text of the copy: what the source's `COPY … TO STDOUT` reads (in key
//! order, after the last key already copied) and the target's `COPY … FROM STDIN`.

use sqlx::PgConnection;

use super::job::TableCopy;
use crate::mover::error::{Context, MoveError};
use crate::sql::{audited, ident, literal_str};
use crate::tenancy::TenantTable;

/// The copied columns, with a self-reference left NULL when it is filled in
/// after the rows (`TableCopy::links_later`).
fn select_list(job: &TableCopy<'_>) -> String {
    let (table, later) = (job.table, job.links_later);
    table
        .copy_columns()
        .iter()
        .map(|c| {
            if later && table.self_keys.iter().any(|k| k == c) {
                "NULL".to_owned()
            } else {
                ident(c)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows in key order, after the last key a previous attempt copied (keyset, not
/// OFFSET: in an online move rows come and go under the copy, and whatever
/// changed is replayed from the change log anyway).
pub(crate) fn read_sql(job: &TableCopy<'_>, after: Option<&str>) -> String {
    let pk = job.table.primary_key_list();
    let resume = after.map_or_else(String::new, |json| {
        format!(
            " AND ({pk}) > (SELECT {pk} FROM jsonb_populate_record(NULL::{table}, {json}::jsonb))",
            table = job.table.name.quoted(),
            json = literal_str(json),
        )
    });
    format!(
        "COPY (SELECT {cols} FROM {table} sm_t WHERE {filter}{resume} ORDER BY {pk}) TO STDOUT (FORMAT {format})",
        format = format(job.table),
        cols = select_list(job),
        table = job.table.name.quoted(),
        filter = website_filter(job),
    )
}

/// The highest key of the website's rows the target holds: where the copy of a
/// table goes on. Only the copy writes them until it finishes.
pub(crate) async fn last_copied_key(
    target: &mut PgConnection,
    job: &TableCopy<'_>,
) -> Result<Option<String>, MoveError> {
    let sql = format!(
        "SELECT {object}::text FROM {table} sm_t WHERE {filter} ORDER BY {pk} LIMIT 1",
        object = job.table.key_object("sm_t."),
        table = job.table.name.quoted(),
        filter = website_filter(job),
        pk = desc_key(job.table),
    );
    sqlx::query_scalar(audited(&sql))
        .fetch_optional(target)
        .await
        .context(|| format!("reading where the copy of {} stopped", job.table.name))
}

/// The website's rows (`COPY` takes no parameters: the id is an integer literal).
fn website_filter(job: &TableCopy<'_>) -> String {
    job.table
        .belongs("sm_t", &crate::sql::literal_i64(job.website.get()))
}

fn desc_key(table: &TenantTable) -> String {
    table
        .primary_key
        .iter()
        .map(|c| format!("{} DESC", ident(c)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn write_sql(table: &TenantTable) -> String {
    format!(
        "COPY {} ({}) FROM STDIN (FORMAT {})",
        table.name.quoted(),
        table.copy_column_list(),
        format(table)
    )
}

/// Binary, unless a column's binary form names a type by its oid (an array of
/// an enum, a composite), which the target's own oids would refuse; text is
/// exact too (under `verify::CANONICAL` output settings), and slower.
fn format(table: &TenantTable) -> &'static str {
    if table.binary_copy() {
        "binary"
    } else {
        "text"
    }
}

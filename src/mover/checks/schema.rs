//! Preflight's refusals of a schema it cannot move exactly: rows outside the
//! plan pointing into it, a foreign-key cycle no session here can cut, and
//! rows that two websites would share.

use sqlx::{PgPool, Row};

use crate::ids::WebsiteId;
use crate::mover::error::{Context, MoveError};
use crate::sql::audited;
use crate::tenancy::{self, TenantTable};

/// A foreign-key cycle cut at a soft edge puts a table's rows on the target
/// before their parents': only sessions that run as replicas (checks off, the
/// references checked before cutover) can write them.
pub(crate) async fn refuse_uncut_cycles(
    target: &PgPool,
    plan: &[TenantTable],
) -> Result<(), MoveError> {
    let cut: Vec<String> = plan
        .iter()
        .filter(|t| t.before_parents)
        .map(|t| t.name.to_string())
        .collect();
    if cut.is_empty() {
        return Ok(());
    }
    let mut conn = target
        .acquire()
        .await
        .context(|| "connecting to the target shard".into())?;
    let may = super::privileges::may_set_replication_role(&mut conn)
        .await
        .context(|| "checking parameter privileges on the target".into())?;
    if may {
        return Ok(());
    }
    Err(MoveError::ForeignKeyCycle(format!(
        "{} (their rows must arrive before their parents'; that needs \
         GRANT SET ON PARAMETER session_replication_role to shardmover's role)",
        cut.join(", ")
    )))
}

/// Refuses a plan that rows outside it point into: deleting the source's
/// rows would cascade into them, or orphan them, without their being copied.
pub(crate) async fn refuse_references_into(
    conn: &mut sqlx::PgConnection,
    tables: &[TenantTable],
) -> Result<(), MoveError> {
    let into = tenancy::foreign_keys_into(conn, tables).await?;
    if into.is_empty() {
        return Ok(());
    }
    let named: Vec<String> = into
        .iter()
        .map(|fk| format!("{} ({} → {})", fk.table, fk.constraint, fk.references))
        .collect();
    Err(MoveError::UnmovedReferences(format!(
        "tables outside the move reference its tables: {}; their rows would be deleted or \
         orphaned with the website's without being moved. Give such a table the tenant key \
         column, or stop excluding it (tenancy.exclude_tables), so it moves with its parents",
        named.join(", ")
    )))
}

/// Refuses a table whose rows of the website also lead, by another of their
/// paths, to another website: moving them would take them from that website
/// too (its cleanup deletes them from the source). Only tables reached through
/// several paths can hold such rows.
pub(crate) async fn refuse_shared_rows(
    source: &PgPool,
    plan: &[TenantTable],
    website: WebsiteId,
) -> Result<(), MoveError> {
    let mut shared = Vec::new();
    for table in plan.iter().filter(|t| t.owner.paths().len() > 1) {
        let sql = format!(
            "SELECT count(*)::int8 AS n, min({key}::text) AS sample FROM {name} sm_t
              WHERE {mine} AND {elsewhere}",
            key = table.key_object("sm_t."),
            name = table.name.quoted(),
            mine = table.belongs("sm_t", "$1"),
            elsewhere = table.owner.belongs_elsewhere("sm_t", "$1"),
        );
        let row = sqlx::query(audited(&sql))
            .bind(website.get())
            .fetch_one(source)
            .await
            .context(|| format!("checking {} for rows of two websites", table.name))?;
        let count: i64 = row.get("n");
        if count > 0 {
            shared.push(format!(
                "{} ({count} row(s), e.g. {})",
                table.name,
                row.get::<Option<String>, _>("sample").unwrap_or_default()
            ));
        }
    }
    if shared.is_empty() {
        return Ok(());
    }
    Err(MoveError::UnmovedReferences(format!(
        "rows of website {website} also belong to other websites through their other parents: {}; \
         moving them would take them from those websites. Correct the rows' parents first",
        shared.join(", ")
    )))
}

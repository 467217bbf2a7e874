//! Applying one change to a shard's fence lists, and the triggers compiled
//! from them, in the caller's transaction under the shard's DDL lock.

use sqlx::PgConnection;

use super::guarded;
use super::lists::{self, Change, record};
use super::options::FenceOptions;
use super::sql::{GuardSpec, guard_function, guard_name, trigger_statements};
use crate::mover::mechanics::shard_schema::DDL_LOCK;
use crate::sql::audited;
use crate::tenancy::TenantTable;

pub(super) async fn apply(
    tx: &mut PgConnection,
    extra_tables: &[TenantTable],
    what: &Change,
    options: &FenceOptions,
) -> Result<(), sqlx::Error> {
    let timeout_ms = options.lock_timeout.as_millis().max(1);
    sqlx::query(audited(&format!("SET LOCAL lock_timeout = {timeout_ms}")))
        .execute(&mut *tx)
        .await?;
    sqlx::query(audited(&format!(
        "SELECT pg_advisory_xact_lock({DDL_LOCK})"
    )))
    .execute(&mut *tx)
    .await?;
    if !record(tx, what).await? {
        return Ok(());
    }
    let tables = guarded::all(tx, extra_tables, &options.key_column).await?;
    if tables.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    sqlx::query(audited(&format!(
        "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
        names.join(", ")
    )))
    .execute(&mut *tx)
    .await?;
    let lists = lists::current(tx).await?;
    // Every table's function and triggers in one round trip: the fence is
    // raised inside the freeze, whose length must not grow with the tables.
    let mut batch = Vec::new();
    for guarded in &tables {
        let function = guard_name(guarded.oid);
        // Under the locks: no write runs the function while it is replaced.
        if let Some(table) = guarded.table {
            let spec = GuardSpec {
                owner: &table.owner,
                primary_key: &table.primary_key,
                root_oid: table.oid,
            };
            batch.push(guard_function(&function, &spec));
        } else if let Some(key) = &guarded.key_column {
            // Guarded by a release whose triggers called one shared function.
            legacy_guard(tx, guarded, &function, key).await?;
        }
        let key = guarded.key_column.as_deref();
        batch.extend(trigger_statements(&guarded.name, &function, key, &lists));
    }
    sqlx::raw_sql(audited(&batch.join(";\n")))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Compiles the guard function of a table guarded before guard functions were
/// per table, from the catalogue, unless it has one already.
async fn legacy_guard(
    tx: &mut PgConnection,
    guarded: &guarded::Guarded<'_>,
    function: &str,
    key: &str,
) -> Result<(), sqlx::Error> {
    let exists: bool = sqlx::query_scalar("SELECT to_regprocedure($1 || '()') IS NOT NULL")
        .bind(function)
        .fetch_one(&mut *tx)
        .await?;
    if exists {
        return Ok(());
    }
    let (oid, primary_key) = lists::oid_and_primary_key(tx, &guarded.name).await?;
    let owner = crate::tenancy::Ownership::Column {
        column: key.to_owned(),
    };
    let spec = GuardSpec {
        owner: &owner,
        primary_key: &primary_key,
        root_oid: oid,
    };
    sqlx::query(audited(&guard_function(function, &spec)))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

//! The copy plan: the source's tenant tables in copy order (parents first),
//! refused if it cannot be moved exactly, and checked against the target's
//! shape.

use sqlx::PgPool;

use super::schema;
use crate::app::App;
use crate::mover::error::{Context, MoveError};
use crate::tenancy::{self, TenantTable, schema_diff};

/// Tenant tables of the source in copy order, checked against the target's shape.
pub(crate) async fn discover(
    app: &App,
    source: &PgPool,
    target: &PgPool,
) -> Result<Vec<TenantTable>, MoveError> {
    Ok(survey(app, source, target).await?.0)
}

/// `discover`, with the tables left alone and why.
pub(crate) async fn survey(
    app: &App,
    source: &PgPool,
    target: &PgPool,
) -> Result<(Vec<TenantTable>, Vec<tenancy::LeftAlone>), MoveError> {
    let mut conn = source
        .acquire()
        .await
        .context(|| "connecting to the source shard".into())?;
    let survey = tenancy::survey(&mut conn, &app.settings.tenancy).await?;
    if !survey.polymorphic.is_empty() {
        return Err(MoveError::UnmovedReferences(format!(
            "tables with a polymorphic reference that may point at the website's rows: {}; \
             shardmover cannot follow one. Exclude such a table (tenancy.exclude_tables) \
             to leave all its rows where they are, or give it the tenant key column",
            survey.polymorphic.join(", ")
        )));
    }
    let tables = survey.tables;
    if let Some(table) = tables.iter().find(|t| t.primary_key.is_empty()) {
        return Err(MoveError::NoPrimaryKey(table.name.to_string()));
    }
    schema::refuse_references_into(&mut conn, &tables).await?;
    let plan = tenancy::order_by_foreign_keys(tables)?;
    drop(conn); // never held while waiting for the target's
    let mut conn = target
        .acquire()
        .await
        .context(|| "connecting to the target shard".into())?;
    let diff = schema_diff::differences(&mut conn, &plan).await?;
    if !diff.is_empty() {
        return Err(MoveError::SchemaMismatch(diff.join("\n")));
    }
    Ok((plan, survey.left_alone))
}

/// The source's tenant tables in copy order, unchecked against the target:
/// what a rollback deletes when the shapes no longer match.
pub(crate) async fn source_tables(
    app: &App,
    source: &PgPool,
) -> Result<Vec<TenantTable>, MoveError> {
    let mut conn = source
        .acquire()
        .await
        .context(|| "connecting to the source shard".into())?;
    let tables = tenancy::discover(&mut conn, &app.settings.tenancy).await?;
    Ok(tenancy::order_by_foreign_keys(tables)?)
}

//! Phase 1's checks: everything that can be checked before touching anything,
//! in one report that is also what `--dry-run` prints. The preflight phase
//! runs them for a recorded move; a dry run for one not recorded.

pub(crate) mod admission;
pub(crate) mod leftovers;
pub(crate) mod plan;
pub mod privileges;
pub(crate) mod report;
pub(crate) mod schema;
pub(crate) mod schema_notes;

use sqlx::PgPool;

use crate::app::App;
use crate::ids::{ShardName, WebsiteId};
use crate::mover::error::{Context, MoveError};
use crate::mover::mechanics::collisions;
use crate::mover::mechanics::routes::{control_conn, current_shard, route};
use crate::sql::audited;
use crate::tenancy::TenantTable;
use admission::Admission;
use report::{PreflightReport, TableReport};

/// Runs every preflight check of a move to `target`; touches nothing on
/// either shard. `admission` says whether the move is recorded already.
pub(crate) async fn preflight(
    app: &App,
    website: WebsiteId,
    target: &ShardName,
    admission: Admission,
) -> Result<PreflightReport, MoveError> {
    let source = current_shard(app, website).await?;
    let (source_pool, target_pool) = route(app, website, &source, target, admission.pools())?;
    admission::check(&mut *control_conn(app).await?, app, target, admission).await?;
    let (plan, left_alone) = plan::survey(app, source_pool, target_pool).await?;
    privileges::check(app, [(&source, source_pool), (target, target_pool)], &plan).await?;
    // The source's checks and the target's run side by side; their errors
    // are reported in one fixed order, whichever finished first.
    let source_side = async {
        let schema = {
            let mut conn = source_pool
                .acquire()
                .await
                .context(|| "connecting to the source shard".into())?;
            schema_notes::gather(&mut conn, &plan, left_alone)
                .await
                .context(|| "reading the application's triggers and views".into())?
        };
        schema::refuse_shared_rows(source_pool, &plan, website).await?;
        let tables = table_reports(source_pool, &plan, website).await?;
        Ok::<_, MoveError>((schema, tables))
    };
    let collisions = async {
        for table in &plan {
            collisions::check(source_pool, target_pool, table, website).await?;
        }
        Ok::<_, MoveError>(())
    };
    let (source_side, cycles, clear, collided) = tokio::join!(
        source_side,
        schema::refuse_uncut_cycles(target_pool, &plan),
        check_target_is_clear(target_pool, &plan, website),
        collisions,
    );
    let (schema, tables) = source_side?;
    cycles?;
    clear?;
    collided?;
    let mut leftovers = leftovers::captures(app, &source, source_pool).await?;
    leftovers.extend(leftovers::captures(app, target, target_pool).await?);
    Ok(PreflightReport {
        leftovers,
        schema,
        website_id: website,
        source_location: app.shards.location(&source).unwrap_or_default().to_owned(),
        target_location: app.shards.location(target).unwrap_or_default().to_owned(),
        source_shard: source,
        target_shard: target.clone(),
        rows_total: tables.iter().map(|t| t.rows).sum(),
        tables,
        plan,
    })
}

/// Each table's rows of the website on the source, and how it is copied.
async fn table_reports(
    source: &PgPool,
    plan: &[TenantTable],
    website: WebsiteId,
) -> Result<Vec<TableReport>, MoveError> {
    let mut tables = Vec::with_capacity(plan.len());
    for table in plan {
        tables.push(TableReport {
            name: table.name.to_string(),
            rows: count_rows(source, table, website).await?,
            owner: table.owner.describe(),
            primary_key: table.primary_key.clone(),
            self_referencing: table.self_referencing,
            links_later: table.links_later(),
        });
    }
    Ok(tables)
}

async fn check_target_is_clear(
    target: &PgPool,
    plan: &[TenantTable],
    website: WebsiteId,
) -> Result<(), MoveError> {
    let mut found = Vec::new();
    for table in plan {
        let rows = count_rows(target, table, website).await?;
        if rows > 0 {
            found.push(format!("{} rows in {}", rows, table.name));
        }
    }
    if found.is_empty() {
        Ok(())
    } else {
        Err(MoveError::TargetNotEmpty {
            website,
            detail: found.join(", "),
        })
    }
}

async fn count_rows(
    pool: &PgPool,
    table: &TenantTable,
    website: WebsiteId,
) -> Result<i64, MoveError> {
    sqlx::query_scalar(audited(&format!(
        "SELECT count(*)::int8 FROM {} sm_t WHERE {}",
        table.name.quoted(),
        table.belongs("sm_t", "$1")
    )))
    .bind(website.get())
    .fetch_one(pool)
    .await
    .context(|| format!("counting rows of {}", table.name))
}

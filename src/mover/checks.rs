//! Phase 1: everything that can be checked before touching anything. Also what
//! `--dry-run` prints.

pub(crate) mod leftovers;
pub(crate) mod preflight_privileges;
pub mod privileges;
pub(crate) mod schema;
pub(crate) mod schema_notes;

use serde::Serialize;
use sqlx::PgPool;

use super::error::{Context, MoveError};
use super::{Mover, collisions, schema_checks};
use crate::admission::{self, Ask};
use crate::control::registry;
use crate::ids::{ShardName, WebsiteId};
use crate::shard_pools::PoolUse;
use crate::sql::audited;
use crate::tenancy::schema_diff;
use crate::tenancy::{self, TenantTable};
use schema_notes::SchemaNotes;

/// Which move the capacity and health checks are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Being recorded now: holds the catalogue row so requests count in turn.
    NewMove,
    /// Not recorded (a dry run): needs a free slot, takes no lock.
    DryRun,
    /// Recorded already, so it counts itself among the moves heading there.
    Recorded,
}

impl Admission {
    /// A dry run is a read: it never takes the connections running moves count on.
    pub(crate) fn pools(self) -> PoolUse {
        match self {
            Admission::DryRun => PoolUse::Read,
            Admission::NewMove | Admission::Recorded => PoolUse::Move,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub name: String,
    pub rows: i64,
    pub primary_key: Vec<String>,
    /// How its rows are found: the key column, or the path through parents.
    pub owner: String,
    pub self_referencing: bool,
    /// Copied in chunks with its self-references filled in afterwards.
    pub links_later: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PreflightReport {
    pub website_id: WebsiteId,
    pub source_shard: ShardName,
    pub source_location: String,
    pub target_shard: ShardName,
    pub target_location: String,
    pub rows_total: i64,
    pub tables: Vec<TableReport>,
    /// Change capture left on either shard by moves that have ended.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leftovers: Vec<String>,
    /// Tables left alone, triggers, row security, materialized views.
    pub schema: SchemaNotes,
    #[serde(skip)]
    pub plan: Vec<TenantTable>,
}

impl Mover {
    /// Runs every preflight check of a move not yet recorded (a dry run);
    /// touches nothing on either shard.
    pub async fn preflight(
        &self,
        website: WebsiteId,
        target: &ShardName,
    ) -> Result<PreflightReport, MoveError> {
        self.preflight_as(website, target, Admission::DryRun).await
    }

    /// Preflight of a recorded move, which already counts against the target's capacity.
    pub(crate) async fn preflight_as(
        &self,
        website: WebsiteId,
        target: &ShardName,
        admission: Admission,
    ) -> Result<PreflightReport, MoveError> {
        let source = self.current_shard(website).await?;
        let (source_pool, target_pool) = self.route(website, &source, target, admission.pools())?;
        self.check_admission(&mut *self.control_conn().await?, target, admission)
            .await?;
        let (plan, left_alone) = self.survey_plan(source_pool, target_pool).await?;
        self.check_privileges([(&source, source_pool), (target, target_pool)], &plan)
            .await?;
        let schema = {
            let mut conn = source_pool
                .acquire()
                .await
                .context(|| "connecting to the source shard".into())?;
            schema_notes::gather(&mut conn, &plan, left_alone)
                .await
                .context(|| "reading the application's triggers and views".into())?
        };
        schema_checks::refuse_uncut_cycles(target_pool, &plan).await?;
        schema_checks::refuse_shared_rows(source_pool, &plan, website).await?;
        let mut tables = Vec::with_capacity(plan.len());
        for table in &plan {
            tables.push(TableReport {
                name: table.name.to_string(),
                rows: count_rows(source_pool, table, website).await?,
                owner: table.owner.describe(),
                primary_key: table.primary_key.clone(),
                self_referencing: table.self_referencing,
                links_later: table.links_later(),
            });
        }
        self.check_target_is_clear(target_pool, &plan, website)
            .await?;
        for table in &plan {
            collisions::check(source_pool, target_pool, table, website).await?;
        }
        let mut leftovers = self.leftover_captures(&source, source_pool).await?;
        leftovers.extend(self.leftover_captures(target, target_pool).await?);
        Ok(PreflightReport {
            leftovers,
            schema,
            website_id: website,
            source_location: self.shards.location(&source).unwrap_or_default().to_owned(),
            target_location: self.shards.location(target).unwrap_or_default().to_owned(),
            source_shard: source,
            target_shard: target.clone(),
            rows_total: tables.iter().map(|t| t.rows).sum(),
            tables,
            plan,
        })
    }

    /// The shard the registry names for the website.
    pub(crate) async fn current_shard(&self, website: WebsiteId) -> Result<ShardName, MoveError> {
        let mut conn = self.control_conn().await?;
        self.current_shard_on(&mut conn, website).await
    }

    /// `current_shard` on the caller's connection (one connection per request).
    pub(crate) async fn current_shard_on(
        &self,
        conn: &mut sqlx::PgConnection,
        website: WebsiteId,
    ) -> Result<ShardName, MoveError> {
        let name = registry::shard_of(conn, &self.settings.tenancy, website)
            .await
            .context(|| "reading the tenant registry".into())?
            .ok_or(MoveError::UnknownWebsite(website))?;
        ShardName::parse(&name).map_err(|_| MoveError::UnknownShard(name))
    }

    /// The target's status and capacity (and, for new moves, its stored health)
    /// from the control-database catalogue, so a change there applies at once.
    /// Capacity counts the target's websites and the moves already heading there.
    pub(crate) async fn check_admission(
        &self,
        conn: &mut sqlx::PgConnection,
        target: &ShardName,
        admission: Admission,
    ) -> Result<(), MoveError> {
        let (extra, check_health, lock) = match admission {
            Admission::NewMove => (1, true, true),
            Admission::DryRun => (1, true, false),
            Admission::Recorded => (0, false, false),
        };
        let ask = Ask {
            extra,
            check_health,
            lock,
        };
        admission::admit(conn, &self.settings, target, ask)
            .await
            .map_err(MoveError::from)
    }

    /// Source and target configured and distinct (status and capacity:
    /// `check_admission`), with their pools for running moves.
    pub(crate) fn check_route(
        &self,
        website: WebsiteId,
        source: &ShardName,
        target: &ShardName,
    ) -> Result<(&PgPool, &PgPool), MoveError> {
        self.route(website, source, target, PoolUse::Move)
    }

    /// `check_route` with the pools of `pools`.
    fn route(
        &self,
        website: WebsiteId,
        source: &ShardName,
        target: &ShardName,
        pools: PoolUse,
    ) -> Result<(&PgPool, &PgPool), MoveError> {
        self.settings
            .shard(target)
            .ok_or_else(|| MoveError::UnknownShard(target.to_string()))?;
        if source == target {
            return Err(MoveError::SameShard {
                website,
                shard: source.clone(),
            });
        }
        let source_pool = self
            .shards
            .get(source, pools)
            .ok_or_else(|| MoveError::UnknownShard(source.to_string()))?;
        let target_pool = self
            .shards
            .get(target, pools)
            .expect("configured shards have pools");
        Ok((source_pool, target_pool))
    }

    /// Tenant tables of the source in copy order, checked against the target's shape.
    pub(crate) async fn discover_plan(
        &self,
        source: &PgPool,
        target: &PgPool,
    ) -> Result<Vec<TenantTable>, MoveError> {
        Ok(self.survey_plan(source, target).await?.0)
    }

    /// `discover_plan`, with the tables left alone and why.
    async fn survey_plan(
        &self,
        source: &PgPool,
        target: &PgPool,
    ) -> Result<(Vec<TenantTable>, Vec<tenancy::LeftAlone>), MoveError> {
        let mut conn = source
            .acquire()
            .await
            .context(|| "connecting to the source shard".into())?;
        let survey = tenancy::survey(&mut conn, &self.settings.tenancy).await?;
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
        schema_checks::refuse_references_into(&mut conn, &tables).await?;
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

    async fn check_target_is_clear(
        &self,
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
}

pub(crate) async fn count_rows(
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

//! The catalogue: configured shards with their stored state (status, capacity,
//! labels), website counts and latest health; changes are audited. A stored
//! shard that left the configuration is listed as such (`configured: false`):
//! never probed, never a placement candidate, never silently dropped.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::{ShardOps, ShardOpsError, health::HealthView};
use crate::config::Settings;
use crate::control::registry;
use crate::control::shard_catalogue::{self, ShardChange, ShardState};
use crate::ids::ShardName;
use crate::shard_status::ShardStatus;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShardView {
    pub name: String,
    /// `host:port/database`; never credentials.
    pub location: String,
    /// provisioning | available | at_capacity | maintenance | decommissioned
    #[schema(value_type = String)]
    pub status: ShardStatus,
    /// Null: no limit.
    pub capacity: Option<i64>,
    pub websites: i64,
    pub free_capacity: Option<i64>,
    #[schema(value_type = Object)]
    pub labels: Map<String, Value>,
    /// Available, with room and not UNHEALTHY: placement and moves may pick it.
    pub accepts_websites: bool,
    /// False for a catalogue row whose shard is no longer in the configuration.
    pub configured: bool,
    /// The live drain plan keeping new websites off this shard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drained_by_rebalance: Option<i64>,
    pub health: Option<HealthView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShardDetail {
    #[serde(flatten)]
    pub shard: ShardView,
    /// Newest first.
    pub recent_changes: Vec<ShardChange>,
}

/// A change: `None` fields stay as they are; `capacity: Some(None)` removes the limit.
#[derive(Debug, Clone, Default)]
pub struct ShardUpdate {
    pub status: Option<ShardStatus>,
    pub capacity: Option<Option<i64>>,
    /// Replaces all labels.
    pub labels: Option<BTreeMap<String, String>>,
}

/// Every configured shard's current state: stored, else as configured.
pub(crate) async fn states(
    conn: &mut PgConnection,
    settings: &Settings,
) -> Result<BTreeMap<ShardName, ShardState>, sqlx::Error> {
    let mut stored: BTreeMap<String, ShardState> =
        shard_catalogue::all(conn).await?.into_iter().collect();
    Ok(settings
        .shards
        .keys()
        .filter_map(|name| {
            let shard = ShardName::parse(name).ok()?;
            let state = stored
                .remove(name)
                .or_else(|| shard_catalogue::configured_state(settings, &shard))?;
            Some((shard, state))
        })
        .collect())
}

/// Stored shards that are not (or no longer) configured, by name.
async fn unconfigured(
    conn: &mut PgConnection,
    settings: &Settings,
) -> Result<Vec<(String, ShardState)>, sqlx::Error> {
    let mut stored = shard_catalogue::all(conn).await?;
    stored.retain(|(name, _)| !settings.shards.contains_key(name));
    stored.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(stored)
}

/// A stored shard outside the configuration: no location, no health, no websites accepted.
fn unconfigured_view(name: String, state: ShardState, websites: i64) -> ShardView {
    ShardView {
        name,
        location: String::new(),
        status: state.status,
        capacity: state.capacity,
        websites,
        free_capacity: state.capacity.map(|c| (c - websites).max(0)),
        labels: state.labels,
        accepts_websites: false,
        configured: false,
        drained_by_rebalance: None,
        health: None,
    }
}

impl ShardOps<'_> {
    /// Inserts configured shards missing from the catalogue; keeps run-time changes.
    pub async fn seed(&self) -> Result<u64, ShardOpsError> {
        let mut conn = self.conn().await?;
        shard_catalogue::seed(&mut conn, self.settings())
            .await
            .map_err(ShardOpsError::control("seeding the shard catalogue"))
    }

    pub async fn list(&self) -> Result<Vec<ShardView>, ShardOpsError> {
        let mut conn = self.conn().await?;
        let states = states(&mut conn, self.settings())
            .await
            .map_err(ShardOpsError::control("reading the shard catalogue"))?;
        let counts: BTreeMap<String, i64> =
            registry::count_by_shard(&mut conn, &self.settings().tenancy)
                .await
                .map_err(ShardOpsError::control("counting websites"))?
                .into_iter()
                .collect();
        let health = self.stored_health(&mut conn).await?;
        let leftovers = unconfigured(&mut conn, self.settings())
            .await
            .map_err(ShardOpsError::control("reading the shard catalogue"))?;
        let mut views: Vec<ShardView> = states
            .into_iter()
            .map(|(name, state)| {
                let websites = counts.get(name.as_str()).copied().unwrap_or(0);
                let health = health.get(&name).cloned();
                self.view(name, state, websites, health)
            })
            .collect();
        views.extend(leftovers.into_iter().map(|(name, state)| {
            let websites = counts.get(&name).copied().unwrap_or(0);
            unconfigured_view(name, state, websites)
        }));
        let drained = crate::control::rebalances::drained_shards(&mut conn)
            .await
            .map_err(ShardOpsError::control("reading rebalance plans"))?;
        for (shard, plan) in drained {
            if let Some(view) = views.iter_mut().find(|v| v.name == shard) {
                view.accepts_websites = false;
                view.drained_by_rebalance = Some(plan);
            }
        }
        Ok(views)
    }

    fn view(
        &self,
        name: ShardName,
        state: ShardState,
        websites: i64,
        health: Option<HealthView>,
    ) -> ShardView {
        let free_capacity = state.capacity.map(|c| (c - websites).max(0));
        let unhealthy = health.as_ref().is_some_and(|h| self.vouches_unhealthy(h));
        ShardView {
            location: self.location(&name),
            name: name.to_string(),
            status: state.status,
            capacity: state.capacity,
            websites,
            free_capacity,
            labels: state.labels,
            accepts_websites: state.status.accepts_websites()
                && free_capacity != Some(0)
                && !unhealthy,
            configured: true,
            drained_by_rebalance: None,
            health,
        }
    }

    pub async fn show(&self, name: &str) -> Result<ShardDetail, ShardOpsError> {
        let name = self.shard(name)?;
        let shard = self
            .list()
            .await?
            .into_iter()
            .find(|s| s.name == name.as_str())
            .ok_or_else(|| ShardOpsError::UnknownShard(name.to_string()))?;
        let mut conn = self.conn().await?;
        let recent_changes = shard_catalogue::changes(&mut conn, name.as_str(), 20)
            .await
            .map_err(ShardOpsError::control("reading shard changes"))?;
        Ok(ShardDetail {
            shard,
            recent_changes,
        })
    }

    /// Applies a change in one transaction with its audit entry; new moves and
    /// placements see it at once, in every process.
    pub async fn update(
        &self,
        name: &str,
        update: &ShardUpdate,
        changed_by: Option<&str>,
        notes: Option<&str>,
    ) -> Result<ShardDetail, ShardOpsError> {
        let name = self.shard(name)?;
        if update.capacity.flatten().is_some_and(|c| c < 0) {
            return Err(ShardOpsError::Invalid("capacity must be 0 or more".into()));
        }
        let mut tx = self
            .control()
            .begin()
            .await
            .map_err(ShardOpsError::control("connecting to the control database"))?;
        let before = shard_catalogue::current_state(&mut tx, self.settings(), &name, true)
            .await
            .map_err(ShardOpsError::control("reading the shard catalogue"))?
            .ok_or_else(|| ShardOpsError::UnknownShard(name.to_string()))?;
        let after = ShardState {
            status: update.status.unwrap_or(before.status),
            capacity: update.capacity.unwrap_or(before.capacity),
            labels: match &update.labels {
                Some(labels) => labels
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
                None => before.labels.clone(),
            },
        };
        if after != before {
            shard_catalogue::save(&mut tx, name.as_str(), &before, &after, changed_by, notes)
                .await
                .map_err(ShardOpsError::control("saving the shard"))?;
        }
        tx.commit()
            .await
            .map_err(ShardOpsError::control("saving the shard"))?;
        tracing::info!(shard = %name, status = %after.status, "shard catalogue changed");
        self.show(name.as_str()).await
    }
}

//! Admission: may this shard take `extra` more websites right now? Read from
//! the control database — its catalogue status, its capacity against the
//! registry and the moves heading there, its stored health — so every process
//! agrees. Shard operations (assignment, bulk plans) and the move engine (a
//! move request, a dry run, a resumed move) ask the same question here and wrap
//! the refusal in their own error.

use sqlx::PgConnection;

use crate::config::Settings;
use crate::control::shard_health::{HealthState, latest};
use crate::control::{migrations, registry, shard_catalogue};
use crate::ids::ShardName;
use crate::shard_status::ShardStatus;

/// What a caller asks for beyond the bare status check.
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    /// Websites to find room for, beyond those registered there and moving in.
    pub extra: i64,
    /// Refuse a shard whose last fresh probe was UNHEALTHY.
    pub check_health: bool,
    /// Hold the catalogue row, so concurrent assignments and move requests count in turn.
    pub lock: bool,
}

/// Why a shard takes no more websites (or why we could not tell).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("shard {0:?} is not configured")]
    UnknownShard(String),
    #[error("shard {shard} is {status} and does not accept websites")]
    NotAvailable {
        shard: ShardName,
        status: ShardStatus,
    },
    #[error("shard {shard} is full: {websites} websites, capacity {capacity}")]
    Full {
        shard: ShardName,
        websites: i64,
        capacity: i64,
    },
    #[error("shard {shard} is UNHEALTHY{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Unhealthy {
        shard: ShardName,
        detail: Option<String>,
    },
    #[error("shard {shard} is being drained by rebalance {plan} and takes no new websites")]
    Draining { shard: ShardName, plan: i64 },
    #[error("{context}: {}", crate::db::error_message(source))]
    Database {
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

impl Refusal {
    /// The stable code shard operations answer with (a move says `shard_not_available`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownShard(_) => "unknown_shard",
            Self::NotAvailable { .. } => "shard_not_available",
            Self::Full { .. } => "shard_full",
            Self::Unhealthy { .. } => "shard_unhealthy",
            Self::Draining { .. } => "shard_draining",
            Self::Database { .. } => "database_error",
        }
    }
}

fn control(context: &'static str) -> impl FnOnce(sqlx::Error) -> Refusal {
    move |source| Refusal::Database { context, source }
}

/// Admits `target` for `ask`, or says why not.
pub async fn admit(
    conn: &mut PgConnection,
    settings: &Settings,
    target: &ShardName,
    ask: Ask,
) -> Result<(), Refusal> {
    let mut state = read_state(conn, settings, target, false).await?;
    if ask.lock && state.capacity.is_some() {
        // Room is at stake: read again under the row lock, so concurrent
        // requests count in turn. Without a capacity there is nothing to race for.
        state = read_state(conn, settings, target, true).await?;
    }
    if !state.status.accepts_websites() {
        return Err(Refusal::NotAvailable {
            shard: target.clone(),
            status: state.status,
        });
    }
    if ask.extra > 0 {
        check_not_drained(conn, target).await?;
    }
    if let Some(capacity) = state.capacity {
        let websites = websites_on(conn, settings, target).await?;
        if websites + ask.extra > capacity {
            return Err(Refusal::Full {
                shard: target.clone(),
                websites,
                capacity,
            });
        }
    }
    if ask.check_health {
        check_health(conn, settings, target).await?;
    }
    Ok(())
}

async fn read_state(
    conn: &mut PgConnection,
    settings: &Settings,
    target: &ShardName,
    lock: bool,
) -> Result<shard_catalogue::ShardState, Refusal> {
    shard_catalogue::current_state(conn, settings, target, lock)
        .await
        .map_err(control("reading the shard catalogue"))?
        .ok_or_else(|| Refusal::UnknownShard(target.to_string()))
}

/// Websites registered on `target` plus the moves heading there, which have
/// been promised room: they cut over later.
async fn websites_on(
    conn: &mut PgConnection,
    settings: &Settings,
    target: &ShardName,
) -> Result<i64, Refusal> {
    let registered = registry::count_on(conn, &settings.tenancy, target)
        .await
        .map_err(control("counting websites"))?;
    let arriving = migrations::count_arriving(conn, target)
        .await
        .map_err(control("counting moves"))?;
    Ok(registered + arriving)
}

/// A live drain plan keeps new websites off its shard (a move already
/// recorded toward it goes on).
async fn check_not_drained(conn: &mut PgConnection, target: &ShardName) -> Result<(), Refusal> {
    let drained = crate::control::rebalances::drained_shards(conn)
        .await
        .map_err(control("reading rebalance plans"))?;
    match drained
        .into_iter()
        .find(|(shard, _)| shard == target.as_str())
    {
        Some((_, plan)) => Err(Refusal::Draining {
            shard: target.clone(),
            plan,
        }),
        None => Ok(()),
    }
}

/// A fresh UNHEALTHY probe keeps websites off the shard.
async fn check_health(
    conn: &mut PgConnection,
    settings: &Settings,
    target: &ShardName,
) -> Result<(), Refusal> {
    let reports = latest(conn, &[target.to_string()])
        .await
        .map_err(control("reading shard health"))?;
    let stale_after = settings.shard_ops.stale_after();
    match reports.into_iter().find(|r| r.shard == target.as_str()) {
        Some(report) if report.state == HealthState::Unhealthy && !report.is_stale(stale_after) => {
            Err(Refusal::Unhealthy {
                shard: target.clone(),
                detail: report.error_message,
            })
        }
        _ => Ok(()),
    }
}

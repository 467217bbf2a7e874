//! Fleet plans in the control database (`shardmover.rebalances`, their moves
//! and their trail). Repository functions only: what the states mean and when
//! they change is `rebalance`'s business.

mod membership;
mod moves;
mod rates;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::sql::audited;

pub use membership::plan_state_of_move;
pub use moves::{
    NewPlanMove, PlanMove, STOPPED_AFTER_FAILURE, count_by_state, insert_moves, moves_of,
    moves_of_plans, retry_failed, set_move, unfinished_moves, websites_in_live_plans,
};
pub use rates::{Measured, fleet_rate, pair_rates};

/// A plan as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PlanRow {
    pub id: i64,
    pub kind: String,
    pub request: serde_json::Value,
    pub requested_by: String,
    pub max_concurrent: i32,
    pub per_shard: i32,
    pub window_start_min: Option<i32>,
    pub window_end_min: Option<i32>,
    pub stop_on_failure: bool,
    pub drained_shard: Option<String>,
    pub state: String,
    pub waiting_for: Option<String>,
    pub last_progress_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a new plan records.
#[derive(Debug, Clone)]
pub struct NewPlan<'a> {
    pub kind: &'a str,
    pub request: serde_json::Value,
    pub requested_by: &'a str,
    pub max_concurrent: i32,
    pub per_shard: i32,
    pub window: Option<(i32, i32)>,
    pub stop_on_failure: bool,
    pub drained_shard: Option<&'a str>,
}

const COLUMNS: &str = "id, kind, request, requested_by, max_concurrent, per_shard,
    window_start_min, window_end_min, stop_on_failure, drained_shard, state, waiting_for,
    last_progress_at, finished_at, created_at, updated_at";

/// The states in which a plan is not over.
pub const LIVE: [&str; 3] = ["running", "paused", "cancelling"];

pub async fn insert(conn: &mut PgConnection, plan: &NewPlan<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO shardmover.rebalances (kind, request, requested_by, max_concurrent,
             per_shard, window_start_min, window_end_min, stop_on_failure, drained_shard)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(plan.kind)
    .bind(&plan.request)
    .bind(plan.requested_by)
    .bind(plan.max_concurrent)
    .bind(plan.per_shard)
    .bind(plan.window.map(|w| w.0))
    .bind(plan.window.map(|w| w.1))
    .bind(plan.stop_on_failure)
    .bind(plan.drained_shard)
    .fetch_one(conn)
    .await
}

pub async fn find(conn: &mut PgConnection, id: i64) -> Result<Option<PlanRow>, sqlx::Error> {
    sqlx::query_as(audited(&format!(
        "SELECT {COLUMNS} FROM shardmover.rebalances WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Plans newest first, below `before` when given.
pub async fn list(
    conn: &mut PgConnection,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<PlanRow>, sqlx::Error> {
    sqlx::query_as(audited(&format!(
        "SELECT {COLUMNS} FROM shardmover.rebalances
          WHERE $1::int8 IS NULL OR id < $1 ORDER BY id DESC LIMIT $2"
    )))
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Takes the step lease of every live plan nobody else holds, for `owner`,
/// until `secs` from now; returns those plans.
pub async fn lease_live(
    conn: &mut PgConnection,
    owner: &str,
    secs: f64,
) -> Result<Vec<PlanRow>, sqlx::Error> {
    sqlx::query_as(audited(&format!(
        "UPDATE shardmover.rebalances
            SET stepped_by = $1, step_lease_until = now() + make_interval(secs => $2)
          WHERE state = ANY($3)
            AND (step_lease_until IS NULL OR step_lease_until < now() OR stepped_by = $1)
         RETURNING {COLUMNS}"
    )))
    .bind(owner)
    .bind(secs)
    .bind(&LIVE[..])
    .fetch_all(conn)
    .await
}

/// Gives the lease back, so any process may take the next step at once.
pub async fn release(conn: &mut PgConnection, id: i64, owner: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE shardmover.rebalances SET step_lease_until = NULL
          WHERE id = $1 AND stepped_by = $2",
    )
    .bind(id)
    .bind(owner)
    .execute(conn)
    .await
    .map(drop)
}

/// Moves a plan from one of `from` to `to`; false when it was in none of them.
pub async fn transition(
    conn: &mut PgConnection,
    id: i64,
    from: &[&str],
    to: &str,
) -> Result<bool, sqlx::Error> {
    let ended = !LIVE.contains(&to);
    Ok(sqlx::query(
        "UPDATE shardmover.rebalances
            SET state = $3, waiting_for = CASE WHEN $3 = 'running' THEN waiting_for END,
                finished_at = CASE WHEN $4 THEN now() END,
                last_progress_at = CASE WHEN state = 'paused' THEN now() ELSE last_progress_at END
          WHERE id = $1 AND state = ANY($2)",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(ended)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Records why no move of the plan could start (or that one could: `None`),
/// and whether anything moved since the last step.
pub async fn set_waiting(
    conn: &mut PgConnection,
    id: i64,
    waiting_for: Option<&str>,
    progressed: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE shardmover.rebalances
            SET waiting_for = $2,
                last_progress_at = CASE WHEN $3 THEN now() ELSE last_progress_at END
          WHERE id = $1 AND (waiting_for IS DISTINCT FROM $2 OR $3)",
    )
    .bind(id)
    .bind(waiting_for)
    .bind(progressed)
    .execute(conn)
    .await
    .map(drop)
}

/// Shards a live drain keeps new websites off, with the plan draining each.
pub async fn drained_shards(conn: &mut PgConnection) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT drained_shard, id FROM shardmover.rebalances
          WHERE drained_shard IS NOT NULL AND state = ANY($1)",
    )
    .bind(&LIVE[..])
    .fetch_all(conn)
    .await
}

/// Appends to the plan's trail; returns the entry's id (a plan's end names
/// the entry that announced it, so each ending is mailed once).
pub async fn record_event(
    conn: &mut PgConnection,
    id: i64,
    event: &str,
    by: Option<&str>,
    detail: Option<&str>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO shardmover.rebalance_events (rebalance_id, event, changed_by_email, detail)
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(id)
    .bind(event)
    .bind(by)
    .bind(detail)
    .fetch_one(conn)
    .await
}

/// One entry of a plan's trail.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PlanEvent {
    pub event: String,
    pub changed_by_email: Option<String>,
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn events_of(conn: &mut PgConnection, id: i64) -> Result<Vec<PlanEvent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT event, changed_by_email, detail, created_at FROM shardmover.rebalance_events
          WHERE rebalance_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(conn)
    .await
}

/// Live plans by state, and the longest a running plan (not waiting for its
/// window) has gone without progress, in seconds.
pub async fn live_summary(
    conn: &mut PgConnection,
) -> Result<(Vec<(String, i64)>, f64), sqlx::Error> {
    let states = sqlx::query_as(
        "SELECT state, count(*)::int8 FROM shardmover.rebalances WHERE state = ANY($1) GROUP BY 1",
    )
    .bind(&LIVE[..])
    .fetch_all(&mut *conn)
    .await?;
    let stalled: f64 = sqlx::query_scalar(
        "SELECT coalesce(max(extract(epoch FROM now() - last_progress_at)), 0)::float8
           FROM shardmover.rebalances
          WHERE state = 'running' AND coalesce(waiting_for, '') NOT LIKE 'outside the window%'",
    )
    .fetch_one(conn)
    .await?;
    Ok((states, stalled))
}

//! A plan's moves (`shardmover.rebalance_moves`), read together with the move
//! each one started, so a step sees the engine's own state in one query.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

/// One move of a plan, with the state of the move it started (if any).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PlanMove {
    pub position: i32,
    pub website_id: i64,
    pub source_shard: String,
    pub target_shard: String,
    pub rows_total: i64,
    pub bytes_total: i64,
    /// waiting | running | completed | failed | cancelled
    pub state: String,
    pub tries: i32,
    pub migration_id: Option<i64>,
    pub reason: Option<String>,
    /// The started move's status, phase, progress and last change.
    pub move_status: Option<String>,
    pub move_phase: Option<String>,
    pub move_rows_total: Option<i64>,
    pub move_rows_copied: Option<i64>,
    pub move_error: Option<String>,
    pub move_started_at: Option<DateTime<Utc>>,
    pub move_updated_at: Option<DateTime<Utc>>,
}

/// A move to record: website, from, to, rows, bytes.
pub type NewPlanMove<'a> = (i64, &'a str, &'a str, i64, i64);

pub async fn insert_moves(
    conn: &mut PgConnection,
    id: i64,
    moves: &[NewPlanMove<'_>],
) -> Result<(), sqlx::Error> {
    let websites: Vec<i64> = moves.iter().map(|m| m.0).collect();
    let sources: Vec<&str> = moves.iter().map(|m| m.1).collect();
    let targets: Vec<&str> = moves.iter().map(|m| m.2).collect();
    let rows: Vec<i64> = moves.iter().map(|m| m.3).collect();
    let bytes: Vec<i64> = moves.iter().map(|m| m.4).collect();
    sqlx::query(
        "INSERT INTO shardmover.rebalance_moves
             (rebalance_id, position, website_id, source_shard, target_shard, rows_total, bytes_total)
         SELECT $1, (n - 1)::int, w, s, t, r, b
           FROM unnest($2::int8[], $3::text[], $4::text[], $5::int8[], $6::int8[])
                WITH ORDINALITY AS m(w, s, t, r, b, n)",
    )
    .bind(id)
    .bind(&websites)
    .bind(&sources)
    .bind(&targets)
    .bind(&rows)
    .bind(&bytes)
    .execute(conn)
    .await
    .map(drop)
}

pub async fn moves_of(conn: &mut PgConnection, id: i64) -> Result<Vec<PlanMove>, sqlx::Error> {
    let mut by_plan = moves_of_plans(conn, &[id]).await?;
    Ok(by_plan.remove(&id).unwrap_or_default())
}

/// The moves of each plan in `ids`, in one query (a list page shows many plans).
pub async fn moves_of_plans(
    conn: &mut PgConnection,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, Vec<PlanMove>>, sqlx::Error> {
    let rows = sqlx::query_as::<_, PlanMoveOf>(
        "SELECT p.rebalance_id, p.position, p.website_id, p.source_shard, p.target_shard, p.rows_total,
                p.bytes_total, p.state, p.tries, p.migration_id, p.reason,
                m.status AS move_status, m.phase AS move_phase, m.rows_total AS move_rows_total,
                m.rows_copied AS move_rows_copied, m.error_message AS move_error,
                m.started_at AS move_started_at, m.updated_at AS move_updated_at
           FROM shardmover.rebalance_moves p
           LEFT JOIN shardmover.migrations m ON m.id = p.migration_id
          WHERE p.rebalance_id = ANY($1) ORDER BY p.rebalance_id, p.position",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    let mut by_plan: std::collections::HashMap<i64, Vec<PlanMove>> = Default::default();
    for row in rows {
        by_plan
            .entry(row.rebalance_id)
            .or_default()
            .push(row.the_move);
    }
    Ok(by_plan)
}

#[derive(sqlx::FromRow)]
struct PlanMoveOf {
    rebalance_id: i64,
    #[sqlx(flatten)]
    the_move: PlanMove,
}

/// Sets one move's state, started move, tries and reason.
pub async fn set_move(
    conn: &mut PgConnection,
    id: i64,
    website: i64,
    (state, migration_id, tries, reason): (&str, Option<i64>, i32, Option<&str>),
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE shardmover.rebalance_moves
            SET state = $3, migration_id = $4, tries = $5, reason = $6
          WHERE rebalance_id = $1 AND website_id = $2",
    )
    .bind(id)
    .bind(website)
    .bind(state)
    .bind(migration_id)
    .bind(tries)
    .bind(reason)
    .execute(conn)
    .await
    .map(drop)
}

/// Websites with a move waiting or running in a live plan, with the plan.
pub async fn websites_in_live_plans(
    conn: &mut PgConnection,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.website_id, p.rebalance_id FROM shardmover.rebalance_moves p
           JOIN shardmover.rebalances r ON r.id = p.rebalance_id
          WHERE r.state = ANY($1) AND p.state IN ('waiting', 'running')",
    )
    .bind(&super::LIVE[..])
    .fetch_all(conn)
    .await
}

/// Moves of live plans by state, for `/metrics`.
pub async fn count_by_state(conn: &mut PgConnection) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.state, count(*)::int8 FROM shardmover.rebalance_moves p
           JOIN shardmover.rebalances r ON r.id = p.rebalance_id
          WHERE r.state = ANY($1) GROUP BY 1",
    )
    .bind(&super::LIVE[..])
    .fetch_all(conn)
    .await
}

/// Websites with an unfinished move (pending, running or cleanup pending), with the move.
pub async fn unfinished_moves(conn: &mut PgConnection) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT website_id, id FROM shardmover.migrations
          WHERE status IN ('pending', 'in_progress', 'cleanup_pending')",
    )
    .fetch_all(conn)
    .await
}

/// Why the moves a plan dropped after a failure (`stop_on_failure`) were cancelled.
pub const STOPPED_AFTER_FAILURE: &str = "the plan stopped after a failed move";

/// Puts a plan's failed moves back in line, with those it dropped because of
/// them; returns how many.
pub async fn retry_failed(conn: &mut PgConnection, id: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE shardmover.rebalance_moves SET state = 'waiting', reason = NULL
          WHERE rebalance_id = $1
            AND (state = 'failed' OR state = 'cancelled' AND reason = $2)",
    )
    .bind(id)
    .bind(STOPPED_AFTER_FAILURE)
    .execute(conn)
    .await?
    .rows_affected())
}

//! An online move's freezes. The move's own columns hold the freeze under way
//! (`freeze_started_at`, its budget, what it drained); `shardmover.freezes`
//! keeps every freeze once it ends, however it ended, so a freeze that did not
//! end in a cutover is still counted by `/metrics`. Each write is conditional on
//! the attempt that owns the move.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::ids::{MoveId, ShardName, WebsiteId};
use crate::sql::audited;

/// How a freeze ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezeEnd {
    /// The registry switched to the target: the move's last freeze.
    Cutover,
    /// It could not finish (over its limit, a transient error, a resumed
    /// attempt found it open): lifted, and the move caught up again.
    Thaw,
    /// The move failed or was cancelled with the fence up, and rolled back.
    Rollback,
    /// Its mover died or went silent with the fence up; the freeze watcher lifted it.
    Expired,
}

impl FreezeEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cutover => "cutover",
            Self::Thaw => "thaw",
            Self::Rollback => "rollback",
            Self::Expired => "expired",
        }
    }
}

/// The freeze begins, held to `budget_ms` (both kept as first recorded when a
/// resumed attempt freezes again: the application's writes have been refused since then).
pub async fn start_freeze(
    conn: &mut PgConnection,
    id: MoveId,
    attempt: i32,
    budget_ms: u64,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE shardmover.migrations
            SET freeze_started_at = coalesce(freeze_started_at, clock_timestamp()),
                freeze_budget_ms = coalesce(freeze_budget_ms, $3), freeze_waits_for = NULL
          WHERE id = $1 AND attempts = $2 AND status = 'in_progress'",
    )
    .bind(id.get())
    .bind(attempt)
    .bind(i32::try_from(budget_ms).unwrap_or(i32::MAX))
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Ends the open freeze of the attempt's move, keeping it in `shardmover.freezes`
/// with `drained` more changes, then applies `set` to the move (`set` is one of
/// this module's fixed assignments, never input). False unless the attempt owns
/// the move (in a freeze's phase, for a thaw; with a freeze open, otherwise).
async fn end(
    conn: &mut PgConnection,
    id: MoveId,
    attempt: i32,
    drained: i64,
    how: FreezeEnd,
    set: &str,
) -> Result<bool, sqlx::Error> {
    // A thaw also ends a freeze that was entered but never recorded (a crash
    // between the phase and the freeze's start): nothing to keep then.
    let (phase, open) = match how {
        FreezeEnd::Thaw | FreezeEnd::Expired => {
            ("AND phase IN ('freezing', 'verifying', 'cutover')", "")
        }
        FreezeEnd::Cutover | FreezeEnd::Rollback => (
            "",
            "AND freeze_started_at IS NOT NULL AND freeze_ended_at IS NULL",
        ),
    };
    let result = sqlx::query(audited(&format!(
        "WITH open AS (
              SELECT id, freeze_started_at, freeze_ended_at, freeze_budget_ms,
                     coalesce(freeze_changes, 0) + $3 AS drained, clock_timestamp() AS ended
                FROM shardmover.migrations
               WHERE id = $1 AND attempts = $2 AND status = 'in_progress' {phase} {open}
                 FOR UPDATE),
              kept AS (
              INSERT INTO shardmover.freezes
                     (migration_id, attempt, started_at, ended_at, budget_ms, changes_drained, ended_by)
              SELECT id, $2, freeze_started_at, ended, coalesce(freeze_budget_ms, 0), drained, $4
                FROM open WHERE freeze_started_at IS NOT NULL AND freeze_ended_at IS NULL)
         UPDATE shardmover.migrations m SET {set}
           FROM open WHERE m.id = open.id"
    )))
    .bind(id.get())
    .bind(attempt)
    .bind(drained)
    .bind(how.as_str())
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The freeze ends: called in the cutover transaction, so it ends exactly when
/// the registry sends the website's writes to the target.
pub async fn end_freeze(
    conn: &mut PgConnection,
    id: MoveId,
    attempt: i32,
    drained: i64,
) -> Result<bool, sqlx::Error> {
    let set = "freeze_ended_at = open.ended, freeze_changes = open.drained";
    end(conn, id, attempt, drained, FreezeEnd::Cutover, set).await
}

/// A freeze that could not finish (`Thaw`), or whose mover is gone (`Expired`):
/// the fence is lifted and the move goes back to catching up, so the next
/// freeze starts anew (recorded from when its fence goes up) and only once the
/// backlog fits the budget again.
pub async fn thaw(
    conn: &mut PgConnection,
    id: MoveId,
    attempt: i32,
    how: FreezeEnd,
) -> Result<bool, sqlx::Error> {
    let set = "phase = 'catching_up', freeze_started_at = NULL, freeze_budget_ms = NULL,
               freeze_changes = NULL, updated_at = now()";
    end(conn, id, attempt, 0, how, set).await
}

/// A rollback lifted the fence of an open freeze: kept as a freeze ended by it.
/// The move's own freeze columns stay, for its record.
pub async fn end_freeze_by_rollback(
    conn: &mut PgConnection,
    id: MoveId,
    attempt: i32,
) -> Result<bool, sqlx::Error> {
    let set = "freeze_ended_at = open.ended";
    end(conn, id, attempt, 0, FreezeEnd::Rollback, set).await
}

/// A move inside a freeze, as the freeze watcher sees it.
#[derive(Debug, Clone)]
pub struct OpenFreeze {
    pub id: MoveId,
    pub website: WebsiteId,
    pub source: ShardName,
    pub target: ShardName,
    pub attempt: i32,
    /// Since the freeze was recorded (by the control database's clock).
    pub age_ms: i64,
}

/// Running online moves recorded inside a freeze for at least `older_than_ms`.
pub async fn open_freezes(
    conn: &mut PgConnection,
    older_than_ms: i64,
) -> Result<Vec<OpenFreeze>, sqlx::Error> {
    let rows: Vec<(i64, i64, String, String, i32, i64)> = sqlx::query_as(
        "SELECT id, website_id, source_shard, target_shard, attempts,
                (extract(epoch FROM clock_timestamp() - freeze_started_at) * 1000)::int8
           FROM shardmover.migrations
          WHERE status = 'in_progress' AND phase IN ('freezing', 'verifying', 'cutover')
            AND freeze_started_at IS NOT NULL AND freeze_ended_at IS NULL
            AND freeze_started_at < clock_timestamp() - make_interval(secs => $1 / 1000.0)
          ORDER BY freeze_started_at",
    )
    .bind(older_than_ms as f64)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, website, source, target, attempt, age_ms)| {
            Some(OpenFreeze {
                id: MoveId::from(id),
                website: WebsiteId::new(website).ok()?,
                source: ShardName::parse(&source).ok()?,
                target: ShardName::parse(&target).ok()?,
                attempt,
                age_ms,
            })
        })
        .collect())
}

/// The freeze watcher takes the move from `attempt` (whose mover is gone):
/// the attempt number goes up, so every later write of the old attempt, the
/// cutover first, is refused. Returns the new attempt number, or `None` if the
/// move has moved on meanwhile.
pub async fn take_over(
    conn: &mut PgConnection,
    id: MoveId,
    attempt: i32,
) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE shardmover.migrations SET attempts = attempts + 1, updated_at = now()
          WHERE id = $1 AND attempts = $2 AND status = 'in_progress'
            AND phase IN ('freezing', 'verifying', 'cutover') AND freeze_ended_at IS NULL
          RETURNING attempts",
    )
    .bind(id.get())
    .bind(attempt)
    .fetch_optional(conn)
    .await
}

/// One ended freeze of a move.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct FreezeRecord {
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub budget_ms: i32,
    pub changes_drained: Option<i64>,
    pub ended_by: String,
}

/// Every ended freeze of the move, oldest first.
pub async fn freezes_of(
    conn: &mut PgConnection,
    id: MoveId,
) -> Result<Vec<FreezeRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT started_at, ended_at, budget_ms, changes_drained, ended_by
           FROM shardmover.freezes WHERE migration_id = $1 ORDER BY started_at, id",
    )
    .bind(id.get())
    .fetch_all(conn)
    .await
}

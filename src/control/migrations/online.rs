//! The online move's own records: catch-up progress and the freeze. Like every
//! write of a running move, each is conditional on the attempt that owns it.

use sqlx::PgConnection;

use crate::domain::Status;
use crate::ids::MoveId;

/// Catch-up progress: changes replayed in total, changes waiting, and the
/// replay rate (changes per second) the freeze decision is based on.
pub async fn record_catch_up(
    conn: &mut PgConnection,
    id: MoveId,
    attempt: i32,
    applied: i64,
    waiting: i64,
    rate: Option<f64>,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE shardmover.migrations
            SET changes_applied = $3, changes_waiting = $4, catch_up_rate = coalesce($5, catch_up_rate)
          WHERE id = $1 AND attempts = $2 AND status = 'in_progress'",
    )
    .bind(id.get())
    .bind(attempt)
    .bind(applied)
    .bind(waiting)
    .bind(rate)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// What keeps a move that is ready to freeze from freezing (sessions holding
/// locks the fence would queue behind), or `None` once nothing does.
pub async fn record_freeze_wait(
    conn: &mut PgConnection,
    id: MoveId,
    attempt: i32,
    waits_for: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE shardmover.migrations SET freeze_waits_for = $3
          WHERE id = $1 AND attempts = $2 AND status = 'in_progress'",
    )
    .bind(id.get())
    .bind(attempt)
    .bind(waits_for)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Which of `ids` have ended (neither pending nor running), with their status:
/// the moves whose change capture on a shard nothing will remove.
pub async fn ended_among(
    conn: &mut PgConnection,
    ids: &[i64],
) -> Result<Vec<(MoveId, Status)>, sqlx::Error> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, status FROM shardmover.migrations
          WHERE id = ANY($1) AND NOT (status = ANY($2))",
    )
    .bind(ids)
    .bind([Status::Pending.as_str(), Status::InProgress.as_str()])
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(id, status)| {
            let status = status
                .parse()
                .map_err(|e: String| sqlx::Error::ColumnDecode {
                    index: "status".into(),
                    source: e.into(),
                })?;
            Ok((MoveId::from(id), status))
        })
        .collect()
}

/// Records the operator's steps after the move (as the attempt that owns it).
pub async fn record_follow_up(
    conn: &mut PgConnection,
    id: MoveId,
    attempt: i32,
    follow_up: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE shardmover.migrations SET follow_up = $3, updated_at = now()
          WHERE id = $1 AND attempts = $2 AND status = 'in_progress'",
    )
    .bind(id.get())
    .bind(attempt)
    .bind(follow_up)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

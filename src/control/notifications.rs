//! Repository for `shardmover.notifications`, the outbox of move notices.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{NoticeStatus, Status};
use crate::ids::{EmailAddress, MigrationId, NotificationId};

/// Also the API's `notifications` item (field names are a contract).
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct Notification {
    #[sqlx(try_from = "i64")]
    #[schema(value_type = i64)]
    pub id: NotificationId,
    #[serde(skip)]
    pub migration_id: i64,
    /// completed | failed | cancelled | cleanup_pending: the event this notice is about.
    #[sqlx(try_from = "String")]
    #[schema(value_type = String)]
    pub event: Status,
    #[sqlx(try_from = "String")]
    #[schema(value_type = String)]
    pub recipient: EmailAddress,
    /// pending | sent | failed (given up).
    #[sqlx(try_from = "String")]
    #[schema(value_type = String)]
    pub status: NoticeStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub give_up_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The Message-ID header: a resent notice carries the same one.
    pub message_id: String,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, migration_id, event, recipient, status, attempts, next_attempt_at,
    give_up_at, last_error, sent_at, message_id, created_at";

pub struct NewNotification<'a> {
    pub migration: MigrationId,
    pub event: &'a str,
    pub recipients: &'a [String],
    pub message_id: &'a str,
    pub give_up_after: Duration,
}

/// Records the notice of a final event, one row per recipient; returns the new
/// rows' ids. A recipient who already has a notice of this move gets none, which
/// is what makes a re-run of an ended move's job mail nothing.
pub async fn insert(
    conn: &mut PgConnection,
    new: &NewNotification<'_>,
) -> Result<Vec<NotificationId>, sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO shardmover.notifications
            (migration_id, event, recipient, message_id, next_attempt_at, give_up_at)
         SELECT $1, $2, r, $4, now(), now() + make_interval(secs => $5)
           FROM unnest($3::text[]) AS r
         ON CONFLICT (migration_id, event, recipient) DO NOTHING RETURNING id",
    )
    .bind(new.migration.0)
    .bind(new.event)
    .bind(new.recipients)
    .bind(new.message_id)
    .bind(new.give_up_after.as_secs_f64())
    .fetch_all(conn)
    .await?;
    Ok(ids.into_iter().map(NotificationId).collect())
}

/// Locks a pending notice for delivery until the caller's transaction ends;
/// `None` if it was sent or given up, or another worker holds it right now.
pub async fn claim(
    conn: &mut PgConnection,
    id: NotificationId,
) -> Result<Option<Notification>, sqlx::Error> {
    sqlx::query_as(crate::sql::audited(&format!(
        "SELECT {COLUMNS} FROM shardmover.notifications
          WHERE id = $1 AND status = $2 FOR UPDATE SKIP LOCKED"
    )))
    .bind(id.0)
    .bind(NoticeStatus::Pending.as_str())
    .fetch_optional(conn)
    .await
}

pub async fn mark_sent(conn: &mut PgConnection, id: NotificationId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE shardmover.notifications
            SET status = $2, sent_at = now(), attempts = attempts + 1, next_attempt_at = NULL
          WHERE id = $1",
    )
    .bind(id.0)
    .bind(NoticeStatus::Sent.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed attempt: retried after `retry_in`, or given up with `None`.
pub async fn mark_failed_attempt(
    conn: &mut PgConnection,
    id: NotificationId,
    error: &str,
    retry_in: Option<Duration>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE shardmover.notifications
            SET attempts = attempts + 1, last_error = $2,
                status = CASE WHEN $3::float8 IS NULL THEN $4 ELSE $5 END,
                next_attempt_at = now() + make_interval(secs => $3)
          WHERE id = $1",
    )
    .bind(id.0)
    .bind(error)
    .bind(retry_in.map(|d| d.as_secs_f64()))
    .bind(NoticeStatus::Failed.as_str())
    .bind(NoticeStatus::Pending.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn list_for_migration(
    conn: &mut PgConnection,
    migration: MigrationId,
) -> Result<Vec<Notification>, sqlx::Error> {
    let mut by_move = list_many(conn, &[migration]).await?;
    Ok(by_move.remove(&migration.0).unwrap_or_default())
}

/// The notices of many moves in one query, by move id.
pub async fn list_many(
    conn: &mut PgConnection,
    migrations: &[MigrationId],
) -> Result<HashMap<i64, Vec<Notification>>, sqlx::Error> {
    let ids: Vec<i64> = migrations.iter().map(|id| id.0).collect();
    let rows: Vec<Notification> = sqlx::query_as(crate::sql::audited(&format!(
        "SELECT {COLUMNS} FROM shardmover.notifications WHERE migration_id = ANY($1) ORDER BY id"
    )))
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    let mut by_move: HashMap<i64, Vec<Notification>> = HashMap::new();
    for notice in rows {
        by_move.entry(notice.migration_id).or_default().push(notice);
    }
    Ok(by_move)
}

/// Notices waiting to be sent.
pub async fn count_pending(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM shardmover.notifications WHERE status = $1")
        .bind(NoticeStatus::Pending.as_str())
        .fetch_one(conn)
        .await
}

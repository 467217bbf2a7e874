//! Repository for `shardmover.notifications`, the outbox of notices: a move's
//! final event, or the summary of a fleet plan's end. Delivery's side (claim a
//! row, record how sending went) is in `delivery`.

mod delivery;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::{NoticeStatus, Status};
use crate::ids::{EmailAddress, MoveId, NotificationId};

pub use delivery::{Outgoing, claim, mark_failed_attempt, mark_sent};

/// A move's notice; also the API's `notifications` item (field names are a contract).
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Notification {
    #[sqlx(try_from = "i64")]
    #[schema(value_type = i64)]
    pub id: NotificationId,
    #[serde(skip_serializing)]
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

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Move(MoveId),
    /// A plan's end: the plan, and the trail entry of the ending announced (a
    /// retried plan can end again, and each ending is summarised once).
    Plan {
        rebalance: i64,
        ending: i64,
    },
}

impl Subject {
    /// The columns `migration_id`, `rebalance_id` and `rebalance_event_id`.
    fn columns(self) -> (Option<i64>, Option<i64>, Option<i64>) {
        match self {
            Self::Move(id) => (Some(id.get()), None, None),
            Self::Plan { rebalance, ending } => (None, Some(rebalance), Some(ending)),
        }
    }
}

pub struct NewNotification<'a> {
    pub subject: Subject,
    pub event: &'a str,
    pub recipients: &'a [String],
    pub message_id: &'a str,
    pub give_up_after: Duration,
}

/// Records the notice of a final event or a plan's end, one row per recipient;
/// returns the new rows' ids. A recipient who already has this notice gets
/// none (either unique constraint: a move's event, a plan's ending), which is
/// what makes a re-run of an ended move's job mail nothing.
pub async fn insert(
    conn: &mut PgConnection,
    new: &NewNotification<'_>,
) -> Result<Vec<NotificationId>, sqlx::Error> {
    let (migration, rebalance, ending) = new.subject.columns();
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO shardmover.notifications (migration_id, rebalance_id, rebalance_event_id,
             event, recipient, message_id, next_attempt_at, give_up_at)
         SELECT $1, $2, $3, $4, r, $6, now(), now() + make_interval(secs => $7)
           FROM unnest($5::text[]) AS r
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(migration)
    .bind(rebalance)
    .bind(ending)
    .bind(new.event)
    .bind(new.recipients)
    .bind(new.message_id)
    .bind(new.give_up_after.as_secs_f64())
    .fetch_all(conn)
    .await?;
    Ok(ids.into_iter().map(NotificationId).collect())
}

pub async fn list_for_migration(
    conn: &mut PgConnection,
    migration: MoveId,
) -> Result<Vec<Notification>, sqlx::Error> {
    let mut by_move = list_many(conn, &[migration]).await?;
    Ok(by_move.remove(&migration.get()).unwrap_or_default())
}

/// The notices of many moves in one query, by move id.
pub async fn list_many(
    conn: &mut PgConnection,
    migrations: &[MoveId],
) -> Result<HashMap<i64, Vec<Notification>>, sqlx::Error> {
    let ids: Vec<i64> = migrations.iter().map(|id| id.get()).collect();
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

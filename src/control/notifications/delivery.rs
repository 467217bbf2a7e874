//! The delivery side of the outbox: a pending row locked for sending, read as
//! what it is about (a move's event or a plan's ending), and how sending went.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::Subject;
use crate::domain::{NoticeStatus, Status};
use crate::ids::{EmailAddress, MoveId, NotificationId};

/// A notice on its way out.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub id: NotificationId,
    pub subject: Subject,
    /// What happened, as stored: a move's final status, or `rebalance_<end state>`.
    pub event: String,
    pub recipient: EmailAddress,
    pub attempts: i32,
    pub give_up_at: DateTime<Utc>,
    /// The Message-ID header: a resent notice carries the same one.
    pub message_id: String,
    /// Written with the event it announces: when the move or plan ended.
    pub created_at: DateTime<Utc>,
}

impl Outgoing {
    /// A move notice's event as the status it announces.
    pub fn move_event(&self) -> Option<Status> {
        Status::try_from(self.event.clone()).ok()
    }

    /// A plan notice's event as the state the plan ended in.
    pub fn plan_outcome(&self) -> &str {
        self.event.trim_start_matches("rebalance_")
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    migration_id: Option<i64>,
    rebalance_id: Option<i64>,
    rebalance_event_id: Option<i64>,
    event: String,
    recipient: String,
    attempts: i32,
    give_up_at: DateTime<Utc>,
    message_id: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<Row> for Outgoing {
    type Error = sqlx::Error;

    fn try_from(row: Row) -> Result<Self, sqlx::Error> {
        let decode = |what: String| sqlx::Error::Decode(what.into());
        let subject = match (row.migration_id, row.rebalance_id, row.rebalance_event_id) {
            (Some(id), _, _) => Subject::Move(MoveId::from(id)),
            (None, Some(rebalance), Some(ending)) => Subject::Plan { rebalance, ending },
            _ => return Err(decode(format!("notice {} is about nothing", row.id))),
        };
        Ok(Self {
            id: NotificationId(row.id),
            subject,
            event: row.event,
            recipient: EmailAddress::parse(&row.recipient).map_err(decode)?,
            attempts: row.attempts,
            give_up_at: row.give_up_at,
            message_id: row.message_id,
            created_at: row.created_at,
        })
    }
}

/// Locks a pending notice for delivery until the caller's transaction ends;
/// `None` if it was sent or given up, or another worker holds it right now.
pub async fn claim(
    conn: &mut PgConnection,
    id: NotificationId,
) -> Result<Option<Outgoing>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, migration_id, rebalance_id, rebalance_event_id, event, recipient, attempts,
                give_up_at, message_id, created_at
           FROM shardmover.notifications
          WHERE id = $1 AND status = $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(id.0)
    .bind(NoticeStatus::Pending.as_str())
    .fetch_optional(conn)
    .await?;
    row.map(Outgoing::try_from).transpose()
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

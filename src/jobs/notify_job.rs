//! The notice job: one delivery attempt of one email notice from the outbox
//! (`mail::delivery` sends it). Also where notices are queued: at a move's end,
//! through the engine's `EndOfMove`, and at a plan's end — each on the
//! transaction that records the end, so the event and its notices commit
//! together or not at all.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{BoxDynError, Data};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::{Job, backoff, enqueue};
use crate::config::Settings;
use crate::control::rebalances::PlanRow;
use crate::domain::MoveRecord;
use crate::ids::NotificationId;
use crate::mail::outbox;
use crate::mail::{Delivery, Notifier, NotifyError};
use crate::mover::EndOfMove;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NotifyJob {
    pub notification_id: NotificationId,
}

impl Job for NotifyJob {
    const QUEUE: &'static str = "shardmover::notify";
}

impl NotifyJob {
    /// Queues a delivery attempt of each notice on the caller's connection or transaction.
    pub async fn enqueue_all(
        conn: &mut PgConnection,
        ids: &[NotificationId],
        delay: Duration,
    ) -> Result<(), sqlx::Error> {
        let jobs: Vec<NotifyJob> = ids
            .iter()
            .map(|&notification_id| NotifyJob { notification_id })
            .collect();
        enqueue(conn, &jobs, delay).await
    }
}

/// The worker's handler. A database error returns `Err`, so apalis tries the
/// job again; SMTP outcomes are all recorded on the row and end the job.
pub async fn run_notify(job: NotifyJob, notifier: Data<Arc<Notifier>>) -> Result<(), BoxDynError> {
    deliver(&notifier, job.notification_id).await?;
    Ok(())
}

/// One delivery attempt of notice `id`, committed with its next try when
/// SMTP failed transiently.
pub async fn deliver(notifier: &Notifier, id: NotificationId) -> Result<Delivery, NotifyError> {
    let db = |source| NotifyError::Database { id, source };
    let mut tx = notifier.control().begin().await.map_err(db)?;
    let delivery = notifier.attempt(&mut tx, id, backoff).await?;
    if let Delivery::Retrying { after, .. } = &delivery {
        NotifyJob::enqueue_all(&mut tx, &[id], *after)
            .await
            .map_err(db)?;
    }
    tx.commit().await.map_err(db)?;
    Ok(delivery)
}

/// The notices side of a move's end: writes the move's notices to the outbox
/// and queues their delivery, on the transaction that ends the move.
pub struct MailNotices {
    settings: Arc<Settings>,
}

impl MailNotices {
    pub fn new(settings: Arc<Settings>) -> Self {
        Self { settings }
    }
}

impl EndOfMove for MailNotices {
    fn announce<'c>(
        &'c self,
        conn: &'c mut PgConnection,
        record: &'c MoveRecord,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let ids = outbox::record_final_event(conn, &self.settings, record).await?;
            NotifyJob::enqueue_all(conn, &ids, Duration::ZERO).await
        })
    }
}

/// Records the summary of a plan's end and queues its delivery, on the
/// transaction that ends the plan.
pub async fn announce_plan_end(
    conn: &mut PgConnection,
    settings: &Settings,
    plan: &PlanRow,
    ending: i64,
    end_state: &str,
) -> Result<(), sqlx::Error> {
    let ids = outbox::record_plan_end(conn, settings, plan, ending, end_state).await?;
    NotifyJob::enqueue_all(conn, &ids, Duration::ZERO).await
}

//! The notice job's payload and queue: one delivery attempt of one email notice.

use std::time::Duration;

use apalis::prelude::TaskBuilder;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::REDELIVERIES;
use crate::ids::NotificationId;

/// The queue (apalis `job_type`) that holds notices to deliver.
pub const QUEUE: &str = "shardmover::notify";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NotifyJob {
    pub notification_id: NotificationId,
}

impl NotifyJob {
    /// Queues a delivery attempt of each notice on the caller's connection or transaction.
    pub async fn enqueue_all(
        conn: &mut PgConnection,
        ids: &[NotificationId],
        delay: Duration,
    ) -> Result<(), sqlx::Error> {
        if ids.is_empty() {
            return Ok(());
        }
        let tasks = ids
            .iter()
            .map(|&id| {
                let job = NotifyJob {
                    notification_id: id,
                };
                let payload = serde_json::to_vec(&job).expect("a NotifyJob always serialises");
                TaskBuilder::new(payload)
                    .run_after(delay)
                    .max_attempts(REDELIVERIES)
                    .build()
            })
            .collect();
        apalis_postgres::queries::push_tasks(conn, QUEUE, tasks)
            .await
            .map_err(|e| match e {
                apalis_postgres::Error::Database(e) => e,
                other => sqlx::Error::Protocol(format!("enqueueing a notice: {other}")),
            })
    }
}

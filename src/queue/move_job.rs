//! The move job's payload and queue: one job per attempt of a move.

use std::time::Duration;

use apalis::prelude::TaskBuilder;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::REDELIVERIES;
use crate::ids::MigrationId;

/// The queue (apalis `job_type`) that holds moves.
pub const QUEUE: &str = "shardmover::move";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MoveJob {
    pub migration_id: MigrationId,
    /// The HTTP request that asked for the move, for the logs.
    pub request_id: Option<String>,
}

impl MoveJob {
    /// Enqueues this move on the caller's connection or transaction.
    pub async fn enqueue(
        &self,
        conn: &mut PgConnection,
        delay: Duration,
    ) -> Result<(), apalis_postgres::Error> {
        let payload = serde_json::to_vec(self).expect("a MoveJob always serialises");
        // Our own retries enqueue a new job with a backoff; apalis's attempts only
        // count re-deliveries (a dead or stopped worker), so leave room for those.
        let task = TaskBuilder::new(payload)
            .run_after(delay)
            .max_attempts(REDELIVERIES)
            .build();
        apalis_postgres::queries::push_tasks(conn, QUEUE, vec![task]).await
    }
}

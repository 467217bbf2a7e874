//! What a notice says, as data for the templates: the move's outcome, route,
//! timing, per-table rows and checksums, and on failure what state the data
//! was left in.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::control::tables::TableProgress;
use crate::domain::{MoveRecord, Phase, Status};

#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    /// completed | failed | cancelled | cleanup_pending
    pub outcome: &'static str,
    pub migration_id: i64,
    pub website_id: i64,
    pub source: String,
    pub target: String,
    pub requested_by: Option<String>,
    pub requested_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub duration: Option<String>,
    pub rows_copied: i64,
    pub tables: Vec<TableProgress>,
    pub progress_url: String,
    /// The phase the move ended in (for a failure: where it failed).
    pub phase: &'static str,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// The operator's steps after the move (materialized views to refresh).
    pub follow_up: Option<String>,
    /// A failure after cutover: the website lives on the target, old rows stay fenced.
    pub after_cutover: bool,
    /// After cutover, whether the target may still refuse the website's writes
    /// (a fence an earlier move left there is not lifted yet).
    pub target_fenced: bool,
    /// The rollback was refused (the registry changed under the move): the
    /// copied rows and the source's fence were left for an operator.
    pub left_for_operator: bool,
    pub keep_source: bool,
    /// online | offline: how the move treated the website's writes.
    pub mode: &'static str,
    /// Online moves: how long the final freeze refused the website's writes.
    pub freeze: Option<String>,
    /// Online moves: captured changes replayed inside the freeze.
    pub freeze_changes: Option<i64>,
}

impl Notice {
    /// The notice of `event` (the status it announces; the move may have moved
    /// on since, as a pending cleanup that was resumed and completed).
    pub fn new(
        record: &MoveRecord,
        event: Status,
        tables: &[TableProgress],
        public_url: &str,
    ) -> Self {
        let outcome = match event {
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
            Status::CleanupPending => "cleanup_pending",
            _ => "failed",
        };
        let after_cutover = event != Status::Completed && record.phase >= Phase::Cleanup;
        let duration = record
            .started_at
            .zip(record.finished_at)
            .map(|(started, finished)| human_duration(finished - started));
        Self {
            outcome,
            migration_id: record.id.get(),
            website_id: record.website.get(),
            source: record.source.to_string(),
            target: record.target.to_string(),
            requested_by: record.requested_by.clone(),
            requested_at: timestamp(record.created_at),
            started_at: record.started_at.map(timestamp),
            finished_at: record.finished_at.map(timestamp),
            duration,
            rows_copied: tables.iter().map(|t| t.rows_copied).sum(),
            tables: tables.to_vec(),
            progress_url: format!(
                "{}/api/v1/migrations/{}",
                public_url.trim_end_matches('/'),
                record.id.get()
            ),
            phase: record.phase.as_str(),
            error_code: record.error_code.clone(),
            error_message: record.error_message.clone(),
            follow_up: record.follow_up.clone(),
            after_cutover,
            target_fenced: after_cutover && record.target_unfenced_at.is_none(),
            left_for_operator: record.error_code.as_deref() == Some("rollback_refused"),
            keep_source: record.keep_source,
            mode: record.mode.as_str(),
            freeze: record
                .freeze_ms()
                .map(|ms| human_duration(chrono::TimeDelta::milliseconds(ms))),
            freeze_changes: record.freeze_changes,
        }
    }
}

pub(super) fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub(super) fn human_duration(elapsed: chrono::TimeDelta) -> String {
    let millis = elapsed.num_milliseconds().max(0);
    let secs = millis / 1000;
    match secs {
        0 => format!("{millis} ms"),
        1..60 => format!("{:.1} s", millis as f64 / 1000.0),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::human_duration;
    use chrono::TimeDelta;

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        assert_eq!(human_duration(TimeDelta::milliseconds(420)), "420 ms");
        assert_eq!(human_duration(TimeDelta::milliseconds(12_345)), "12.3 s");
        assert_eq!(human_duration(TimeDelta::seconds(125)), "2m 05s");
        assert_eq!(human_duration(TimeDelta::seconds(7_500)), "2h 05m");
    }
}

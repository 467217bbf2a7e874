//! What a plan's summary says, as data for the templates: how the plan ended,
//! every move with its route, state, move id and reason, the totals, how long
//! it ran, and where to see it. Read when the summary is sent, so a plan
//! retried since it ended lists its moves as they stand now.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::notice::{human_duration, timestamp};
use crate::control::rebalances::{self, PlanMove, PlanRow};

#[derive(Debug, Clone, Serialize)]
pub struct PlanNotice {
    pub rebalance_id: i64,
    /// drain | balance | add_shard | list
    pub kind: String,
    pub drained_shard: Option<String>,
    /// completed | completed_with_failures | cancelled
    pub outcome: String,
    pub requested_by: String,
    pub started_at: String,
    pub ended_at: String,
    pub duration: String,
    pub total: usize,
    pub completed: usize,
    pub failed: usize,
    pub cancelled: usize,
    pub moves: Vec<PlanNoticeMove>,
    pub plan_url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanNoticeMove {
    pub website_id: i64,
    pub source: String,
    pub target: String,
    /// waiting | running | completed | failed | cancelled
    pub state: String,
    pub migration_id: Option<i64>,
    pub reason: Option<String>,
}

impl PlanNotice {
    /// The summary of plan `id` ending in `outcome` at `ended_at`; `None` if the plan is gone.
    pub async fn load(
        conn: &mut PgConnection,
        id: i64,
        outcome: &str,
        ended_at: DateTime<Utc>,
        public_url: &str,
    ) -> Result<Option<Self>, sqlx::Error> {
        let Some(plan) = rebalances::find(conn, id).await? else {
            return Ok(None);
        };
        let moves = rebalances::moves_of(conn, id).await?;
        Ok(Some(Self::new(
            &plan, &moves, outcome, ended_at, public_url,
        )))
    }

    pub fn new(
        plan: &PlanRow,
        moves: &[PlanMove],
        outcome: &str,
        ended_at: DateTime<Utc>,
        public_url: &str,
    ) -> Self {
        let count = |state: &str| moves.iter().filter(|m| m.state == state).count();
        Self {
            rebalance_id: plan.id,
            kind: plan.kind.clone(),
            drained_shard: plan.drained_shard.clone(),
            outcome: outcome.to_owned(),
            requested_by: plan.requested_by.clone(),
            started_at: timestamp(plan.created_at),
            ended_at: timestamp(ended_at),
            duration: human_duration(ended_at - plan.created_at),
            total: moves.len(),
            completed: count("completed"),
            failed: count("failed"),
            cancelled: count("cancelled"),
            moves: moves.iter().map(PlanNoticeMove::from).collect(),
            plan_url: format!(
                "{}/ui/rebalances/{}",
                public_url.trim_end_matches('/'),
                plan.id
            ),
        }
    }
}

impl From<&PlanMove> for PlanNoticeMove {
    fn from(m: &PlanMove) -> Self {
        Self {
            website_id: m.website_id,
            source: m.source_shard.clone(),
            target: m.target_shard.clone(),
            state: m.state.clone(),
            migration_id: m.migration_id,
            reason: m.reason.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::templates::{PLAN, render};
    use super::*;

    fn drain_with_a_failure() -> PlanNotice {
        let row = |website_id, state: &str, reason: Option<&str>| PlanNoticeMove {
            website_id,
            source: "shard_1".into(),
            target: "shard_2".into(),
            state: state.into(),
            migration_id: Some(website_id * 10),
            reason: reason.map(str::to_owned),
        };
        PlanNotice {
            rebalance_id: 4,
            kind: "drain".into(),
            drained_shard: Some("shard_1".into()),
            outcome: "completed_with_failures".into(),
            requested_by: "lead@example.com".into(),
            started_at: "2026-12-07 10:00:00 UTC".into(),
            ended_at: "2026-12-07 11:05:00 UTC".into(),
            duration: "1h 05m".into(),
            total: 2,
            completed: 1,
            failed: 1,
            cancelled: 0,
            moves: vec![
                row(1, "completed", None),
                row(2, "failed", Some("key <b>collision</b>")),
            ],
            plan_url: "https://moves.example.com/ui/rebalances/4".into(),
        }
    }

    #[test]
    fn a_summary_names_the_plan_its_totals_and_every_move_with_its_reason() {
        let notice = drain_with_a_failure();
        assert_eq!(
            render(PLAN.subject, &notice).unwrap().trim(),
            "[shardmover] rebalance 4 (drain of shard_1) — completed with failures: 1 of 2 moves completed, 1 failed"
        );
        let text = render(PLAN.text, &notice).unwrap();
        for line in [
            "Moves:        2: 1 completed, 1 failed, 0 cancelled",
            "  website 1: shard_1 -> shard_2, completed, move 10",
            "  website 2: shard_1 -> shard_2, failed, move 20; key <b>collision</b>",
            "Details: https://moves.example.com/ui/rebalances/4",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} not in:\n{text}");
        }
    }

    #[test]
    fn the_html_summary_escapes_what_a_reason_says() {
        let html = render(PLAN.html, drain_with_a_failure()).unwrap();
        assert!(html.contains("key &lt;b&gt;collision"), "{html}");
        assert!(!html.contains("<b>collision"), "{html}");
    }
}

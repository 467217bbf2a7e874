//! A plan as the API, the CLI and the dashboard show it: its status (running,
//! paused, waiting, cancelling, completed, completed_with_failures,
//! cancelled), moves counted by state, rows and bytes done of total, ETAs,
//! why it waits, every move and its trail. Read in three queries.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::RebalanceError;
use crate::app::App;
use crate::control::rebalances::{self, PlanEvent, PlanMove, PlanRow};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanSummary {
    pub id: i64,
    /// drain | balance | add_shard | list
    pub kind: String,
    #[schema(value_type = Object)]
    pub request: serde_json::Value,
    pub requested_by: String,
    /// running | paused | waiting | cancelling | completed | completed_with_failures | cancelled
    pub status: String,
    pub waiting_for: Option<String>,
    pub max_concurrent: i32,
    pub per_shard: i32,
    pub window: Option<String>,
    pub stop_on_failure: bool,
    /// Moves by state: waiting, running, completed, failed, cancelled.
    pub moves: BTreeMap<String, i64>,
    pub rows_total: i64,
    pub rows_done: i64,
    pub bytes_total: i64,
    pub bytes_done: i64,
    /// Seconds left at the plan's pace so far; null before anything moved.
    pub eta_secs: Option<f64>,
    pub last_progress_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanView {
    #[serde(flatten)]
    pub summary: PlanSummary,
    pub items: Vec<PlanMoveView>,
    pub events: Vec<PlanEvent>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanMoveView {
    pub website_id: i64,
    pub source_shard: String,
    pub target_shard: String,
    /// waiting | running | completed | failed | cancelled
    pub state: String,
    pub migration_id: Option<i64>,
    /// The move's phase while it runs.
    pub phase: Option<String>,
    pub rows_total: i64,
    pub rows_done: i64,
    pub bytes_total: i64,
    pub bytes_done: i64,
    pub eta_secs: Option<f64>,
    /// Why it waits, or why it failed.
    pub reason: Option<String>,
}

pub async fn show(app: &App, id: i64) -> Result<PlanView, RebalanceError> {
    let mut conn = app.control_pool().acquire().await?;
    let plan = rebalances::find(&mut conn, id)
        .await?
        .ok_or(RebalanceError::UnknownPlan(id))?;
    let moves = rebalances::moves_of(&mut conn, id).await?;
    let events = rebalances::events_of(&mut conn, id).await?;
    let items: Vec<PlanMoveView> = moves.iter().map(item).collect();
    Ok(PlanView {
        summary: summary(&plan, &items),
        items,
        events,
    })
}

/// Plans newest first, below `before` when given.
pub async fn list(
    app: &App,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<PlanSummary>, RebalanceError> {
    let mut conn = app.control_pool().acquire().await?;
    let plans = rebalances::list(&mut conn, before, limit).await?;
    let ids: Vec<i64> = plans.iter().map(|p| p.id).collect();
    let mut moves = rebalances::moves_of_plans(&mut conn, &ids).await?;
    Ok(plans
        .iter()
        .map(|plan| {
            let of_plan = moves.remove(&plan.id).unwrap_or_default();
            let items: Vec<PlanMoveView> = of_plan.iter().map(item).collect();
            summary(plan, &items)
        })
        .collect())
}

fn item(m: &PlanMove) -> PlanMoveView {
    let total = m.move_rows_total.filter(|t| *t > 0).unwrap_or(m.rows_total);
    let done = match m.state.as_str() {
        "completed" => total,
        "running" => m.move_rows_copied.unwrap_or(0).min(total),
        _ => 0,
    };
    let eta_secs = (m.state == "running").then(|| {
        let started = m.move_started_at?;
        let secs = (Utc::now() - started).num_milliseconds() as f64 / 1000.0;
        (done > 0 && secs > 0.0).then(|| (total - done) as f64 / (done as f64 / secs))
    });
    PlanMoveView {
        website_id: m.website_id,
        source_shard: m.source_shard.clone(),
        target_shard: m.target_shard.clone(),
        state: m.state.clone(),
        migration_id: m.migration_id,
        phase: (m.state == "running")
            .then(|| m.move_phase.clone())
            .flatten(),
        rows_total: total,
        rows_done: done,
        bytes_total: m.bytes_total,
        bytes_done: share(m.bytes_total, done, total),
        eta_secs: eta_secs.flatten().map(|s| s.round()),
        reason: m.reason.clone(),
    }
}

fn summary(plan: &PlanRow, items: &[PlanMoveView]) -> PlanSummary {
    let mut moves: BTreeMap<String, i64> =
        ["waiting", "running", "completed", "failed", "cancelled"]
            .into_iter()
            .map(|s| (s.to_owned(), 0))
            .collect();
    for i in items {
        *moves.entry(i.state.clone()).or_default() += 1;
    }
    let sum = |f: fn(&PlanMoveView) -> i64| items.iter().map(f).sum::<i64>();
    let (rows_total, rows_done) = (sum(|i| i.rows_total), sum(|i| i.rows_done));
    let status = match plan.state.as_str() {
        "running" if plan.waiting_for.is_some() && moves["running"] == 0 => "waiting",
        other => other,
    };
    let elapsed = (Utc::now() - plan.created_at).num_milliseconds() as f64 / 1000.0;
    let live = rebalances::LIVE.contains(&plan.state.as_str());
    let eta_secs = (live && rows_done > 0 && elapsed > 0.0)
        .then(|| ((rows_total - rows_done) as f64 / (rows_done as f64 / elapsed)).round());
    let window = plan
        .window_start_min
        .zip(plan.window_end_min)
        .map(|(s, e)| {
            super::Window {
                start: s as u16,
                end: e as u16,
            }
            .to_string()
        });
    PlanSummary {
        id: plan.id,
        kind: plan.kind.clone(),
        request: plan.request.clone(),
        requested_by: plan.requested_by.clone(),
        status: status.to_owned(),
        waiting_for: plan.waiting_for.clone(),
        max_concurrent: plan.max_concurrent,
        per_shard: plan.per_shard,
        window,
        stop_on_failure: plan.stop_on_failure,
        moves,
        rows_total,
        rows_done,
        bytes_total: sum(|i| i.bytes_total),
        bytes_done: sum(|i| i.bytes_done),
        eta_secs,
        last_progress_at: plan.last_progress_at,
        created_at: plan.created_at,
        finished_at: plan.finished_at,
    }
}

/// `part` of `whole` scaled to `of` (bytes done from rows done).
fn share(of: i64, part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        return 0;
    }
    ((of as f64) * (part as f64 / whole as f64)).round() as i64
}

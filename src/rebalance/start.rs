//! Starting a plan: the same request plus its preview's token. The plan is
//! made again over the fleet as it is now and must be the one the token was
//! given for (`409 plan_changed` otherwise); then the plan, its moves and its
//! first trail entry commit together. Plan starts are serialized by a
//! transaction-scoped advisory lock, so two plans never claim one website.

use subtle::ConstantTimeEq;

use super::planner::Kind;
use super::{PlanRequest, RebalanceError, preview};
use crate::app::App;
use crate::control::rebalances::{self, NewPlan, NewPlanMove};

/// Starts the previewed plan; returns its id.
pub async fn start(app: &App, request: &PlanRequest, token: &str) -> Result<i64, RebalanceError> {
    let preview = preview(app, request).await?;
    let same = preview
        .confirmation_token
        .as_bytes()
        .ct_eq(token.trim().as_bytes());
    if !bool::from(same) {
        return Err(RebalanceError::PlanChanged);
    }
    if preview.moves.is_empty() {
        return Err(RebalanceError::NothingToMove);
    }
    let mut tx = app.control_pool().begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('shardmover.rebalance_start'))")
        .execute(&mut *tx)
        .await?;
    let taken = rebalances::websites_in_live_plans(&mut tx).await?;
    if let Some((website, plan)) = taken
        .iter()
        .find(|(w, _)| preview.moves.iter().any(|m| m.website_id == *w))
    {
        return Err(RebalanceError::conflict(
            "plan_changed",
            format!("website {website} joined rebalance {plan} since the preview; preview again"),
        ));
    }
    let options = request.options;
    let plan = NewPlan {
        kind: request.kind_name(),
        request: preview.request.clone(),
        requested_by: &request.requested_by,
        max_concurrent: options.max_concurrent as i32,
        per_shard: options.per_shard as i32,
        window: options
            .window
            .map(|w| (i32::from(w.start), i32::from(w.end))),
        stop_on_failure: options.stop_on_failure,
        drained_shard: match &request.kind {
            Kind::Drain { shard } => Some(shard.as_str()),
            _ => None,
        },
    };
    let id = rebalances::insert(&mut tx, &plan).await?;
    let moves: Vec<NewPlanMove> = preview
        .moves
        .iter()
        .map(|m| {
            let (source, target) = (m.source_shard.as_str(), m.target_shard.as_str());
            (m.website_id, source, target, m.rows, m.bytes)
        })
        .collect();
    rebalances::insert_moves(&mut tx, id, &moves).await?;
    let detail = format!(
        "{} moves, {} rows, {} refused; estimated {:.0} s",
        preview.moves.len(),
        preview.total_rows,
        preview.refusals.len(),
        preview.estimated_secs
    );
    let by = Some(request.requested_by.as_str());
    rebalances::record_event(&mut tx, id, "started", by, Some(&detail)).await?;
    tx.commit().await?;
    tracing::info!(
        rebalance_id = id,
        kind = request.kind_name(),
        moves = moves.len(),
        "rebalance started"
    );
    Ok(id)
}

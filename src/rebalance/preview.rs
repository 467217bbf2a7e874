//! The preview every plan gets before it may start: each move with from → to,
//! rows, bytes and an estimated duration, the distribution before and after,
//! refusals with their reasons, and a confirmation token — a keyed SHA-256
//! (the key bulk assignment keeps in the control database) of the exact plan:
//! kind, options, requester and every move's website, source and target. Sizes
//! are shown but not signed, so a website that gains rows does not void it;
//! any change to what moves where does.

use serde::Serialize;
use utoipa::ToSchema;

use super::estimate::{Job, MoveRate, schedule};
use super::planner::{self, Arithmetic, Refusal, ShardLoad};
use super::{PlanOptions, PlanRequest, RebalanceError, fleet};
use crate::app::App;
use crate::control::{bulk_assign_key, rebalances};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Preview {
    /// drain | balance | add_shard | list
    pub kind: String,
    /// The plan as asked for: kind and its parameters.
    #[schema(value_type = Object)]
    pub request: serde_json::Value,
    #[schema(value_type = Object)]
    pub options: PlanOptions,
    pub requested_by: String,
    pub moves: Vec<PreviewMove>,
    #[schema(value_type = Vec<Object>)]
    pub refusals: Vec<Refusal>,
    #[schema(value_type = Vec<Object>)]
    pub before: Vec<ShardLoad>,
    #[schema(value_type = Vec<Object>)]
    pub after: Vec<ShardLoad>,
    pub total_rows: i64,
    pub total_bytes: i64,
    /// The plan's wall time under its limits, from the measured move rate.
    pub estimated_secs: f64,
    pub rate: MoveRate,
    /// Send it back with the same request to start exactly this plan.
    pub confirmation_token: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PreviewMove {
    pub website_id: i64,
    pub source_shard: String,
    pub target_shard: String,
    pub rows: i64,
    pub bytes: i64,
    pub estimated_secs: f64,
}

/// Plans `request` over the fleet as it is now; changes nothing.
pub async fn preview(app: &App, request: &PlanRequest) -> Result<Preview, RebalanceError> {
    let fleet = fleet::snapshot(app).await?;
    let arithmetic = planner::plan(&request.kind, &fleet.shards, &fleet.websites)?;
    let mut conn = app.control_pool().acquire().await?;
    let rate = match rebalances::move_rate(&mut conn).await? {
        (fixed, rate, measured) if measured > 0 => MoveRate {
            fixed_secs: fixed.unwrap_or(MoveRate::DEFAULT.fixed_secs),
            rows_per_sec: rate.unwrap_or(MoveRate::DEFAULT.rows_per_sec),
            measured_moves: measured,
        },
        _ => MoveRate::DEFAULT,
    };
    let token = bulk_assign_key::sign(&mut conn, &signed_text(request, &arithmetic)).await?;
    Ok(render(request, arithmetic, rate, token))
}

fn render(request: &PlanRequest, plan: Arithmetic, rate: MoveRate, token: String) -> Preview {
    let options = request.options;
    let jobs: Vec<Job> = plan
        .moves
        .iter()
        .map(|m| Job {
            secs: rate.secs(m.rows),
            shards: [m.source_shard.as_str(), m.target_shard.as_str()],
        })
        .collect();
    let estimated_secs = schedule(&jobs, options.max_concurrent, options.per_shard);
    let moves = plan
        .moves
        .iter()
        .map(|m| PreviewMove {
            website_id: m.website_id,
            source_shard: m.source_shard.clone(),
            target_shard: m.target_shard.clone(),
            rows: m.rows,
            bytes: m.bytes,
            estimated_secs: round(rate.secs(m.rows)),
        })
        .collect();
    Preview {
        kind: request.kind_name().to_owned(),
        request: serde_json::to_value(&request.kind).unwrap_or_default(),
        options,
        requested_by: request.requested_by.clone(),
        moves,
        total_rows: plan.moves.iter().map(|m| m.rows).sum(),
        total_bytes: plan.moves.iter().map(|m| m.bytes).sum(),
        refusals: plan.refusals,
        before: plan.before,
        after: plan.after,
        estimated_secs: round(estimated_secs),
        rate,
        confirmation_token: token,
    }
}

/// What the token signs: everything that decides what the plan does.
fn signed_text(request: &PlanRequest, plan: &Arithmetic) -> String {
    let moves: Vec<(i64, &str, &str)> = plan
        .moves
        .iter()
        .map(|m| {
            (
                m.website_id,
                m.source_shard.as_str(),
                m.target_shard.as_str(),
            )
        })
        .collect();
    serde_json::json!({
        "rebalance": request.kind,
        "options": request.options,
        "requested_by": request.requested_by,
        "moves": moves,
    })
    .to_string()
}

fn round(secs: f64) -> f64 {
    (secs * 10.0).round() / 10.0
}

//! The preview every plan gets before it may start: each move with from → to,
//! rows, bytes and an estimated duration, the distribution before and after,
//! refusals with their reasons, and a confirmation token — a keyed SHA-256
//! (the key bulk assignment keeps in the control database) of the exact plan:
//! kind, options, requester and every move's website, source and target. Sizes
//! are shown but not signed, so a website that gains rows does not void it;
//! any change to what moves where does.
//!
//! Only the websites that may move are measured where the plan allows it
//! (`planner::needed`); the loads before and after then rest on catalogue
//! estimates for the rest, and `loads_estimated` says so. Each move's duration
//! is estimated at its shard pair's measured rate (`rates`).

use serde::Serialize;
use utoipa::ToSchema;

use super::estimate::{Job, MoveRate, schedule};
use super::planner::{self, Arithmetic, Refusal, ShardLoad};
use super::rates::{PairRate, RateFrom, Rates};
use super::{PlanOptions, PlanRequest, RebalanceError, fleet};
use crate::app::App;
use crate::control::bulk_assign_key;

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
    /// `before` and `after` rest partly on catalogue estimates
    /// (`pg_class.reltuples`, `pg_table_size`) for the websites the plan does
    /// not move; the moves' own rows and bytes are always measured.
    pub loads_estimated: bool,
    pub total_rows: i64,
    pub total_bytes: i64,
    /// The plan's wall time under its limits, each move at its pair's rate.
    pub estimated_secs: f64,
    /// The fleet's rate over its last 50 completed moves (the default when
    /// none): what a move between shards without history of their own is estimated at.
    pub rate: MoveRate,
    /// Every (source, target) pair of the plan with the rate its moves are estimated at.
    pub pair_rates: Vec<PairRate>,
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
    /// pair | fleet | default: whose measured rate `estimated_secs` uses.
    pub rate_from: RateFrom,
}

/// Plans `request` over the fleet as it is now; changes nothing.
pub async fn preview(app: &App, request: &PlanRequest) -> Result<Preview, RebalanceError> {
    let fleet = fleet::snapshot(app, &request.kind).await?;
    let arithmetic = planner::plan(&request.kind, &fleet.shards, &fleet.websites)?;
    let mut conn = app.control_pool().acquire().await?;
    let rates = Rates::measure(&mut conn, &pairs(&arithmetic)).await?;
    let token = bulk_assign_key::sign(&mut conn, &signed_text(request, &arithmetic)).await?;
    let loads_estimated = !fleet.estimated.is_empty();
    Ok(render(request, arithmetic, &rates, loads_estimated, token))
}

/// The plan's distinct (source, target) pairs, in the order its moves first use them.
fn pairs(plan: &Arithmetic) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for m in &plan.moves {
        let pair = (m.source_shard.clone(), m.target_shard.clone());
        if !pairs.contains(&pair) {
            pairs.push(pair);
        }
    }
    pairs
}

fn render(
    request: &PlanRequest,
    plan: Arithmetic,
    rates: &Rates,
    loads_estimated: bool,
    token: String,
) -> Preview {
    let options = request.options;
    let timed: Vec<(f64, RateFrom)> = (plan.moves.iter())
        .map(|m| {
            let (rate, from) = rates.of(&m.source_shard, &m.target_shard);
            (rate.secs(m.rows), from)
        })
        .collect();
    let jobs: Vec<Job> = (plan.moves.iter().zip(&timed))
        .map(|(m, (secs, _))| Job {
            secs: *secs,
            shards: [m.source_shard.as_str(), m.target_shard.as_str()],
        })
        .collect();
    let estimated_secs = schedule(&jobs, options.max_concurrent, options.per_shard);
    let moves = (plan.moves.iter().zip(&timed))
        .map(|(m, (secs, from))| PreviewMove {
            website_id: m.website_id,
            source_shard: m.source_shard.clone(),
            target_shard: m.target_shard.clone(),
            rows: m.rows,
            bytes: m.bytes,
            estimated_secs: round(*secs),
            rate_from: *from,
        })
        .collect();
    let pair_rates = (pairs(&plan).into_iter())
        .map(|(source_shard, target_shard)| {
            let (rate, rate_from) = rates.of(&source_shard, &target_shard);
            PairRate {
                source_shard,
                target_shard,
                rate,
                rate_from,
            }
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
        loads_estimated,
        estimated_secs: round(estimated_secs),
        rate: rates.fleet,
        pair_rates,
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

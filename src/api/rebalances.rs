//! `/api/v1/rebalances`: fleet plans. A `POST` without `confirmation_token`
//! answers the preview (200); the same body with the preview's token starts
//! exactly that plan (202 with its `id`), or answers `409 plan_changed`.
//! Progress, the list, and pause, resume, cancel and retry.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::access::{Feature, require};
use super::migration_view::ErrorResponse;
use super::{ApiError, AppState};
use crate::rebalance::{
    self, Command, Kind, PlanOptions, PlanRequest, PlanSummary, PlanView, Preview,
};

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateRebalance {
    /// drain (`shard`) | balance (`by`: websites, rows or bytes; `threshold`) |
    /// add_shard (`shard`; `by`: jump_hash or capacity) | list (`moves`)
    #[serde(flatten)]
    #[schema(value_type = Object, example = json!({"kind": "drain", "shard": "shard_1"}))]
    kind: Kind,
    requested_by: String,
    /// Moves of the plan running at once (default 2).
    max_concurrent: Option<u32>,
    /// Moves of the plan reading from or writing to one shard at once (default 1).
    per_shard: Option<u32>,
    /// `"22:00-06:00"`, UTC: moves start only inside it.
    window: Option<String>,
    /// A failed move stops the plan (default false).
    stop_on_failure: Option<bool>,
    /// From the preview: starts exactly the previewed plan.
    confirmation_token: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/rebalances", tag = "rebalances",
    request_body = CreateRebalance,
    responses(
        (status = 200, description = "the preview (no confirmation_token sent)", body = Preview),
        (status = 202, description = "started; `id` names the plan", body = Object),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "plan_changed: preview again", body = ErrorResponse),
        (status = 422, body = ErrorResponse), (status = 503, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn create(
    request: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<CreateRebalance>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Migrations)?;
    let body = body.into_inner();
    let options = PlanOptions::parse(
        body.max_concurrent,
        body.per_shard,
        body.window.as_deref(),
        body.stop_on_failure,
    )?;
    let plan = PlanRequest::new(state.app.settings(), body.kind, &body.requested_by, options)?;
    let Some(token) = body.confirmation_token else {
        return Ok(HttpResponse::Ok().json(rebalance::preview(&state.app, &plan).await?));
    };
    let id = rebalance::start(&state.app, &plan, &token).await?;
    Ok(HttpResponse::Accepted()
        .insert_header(("Location", format!("/api/v1/rebalances/{id}")))
        .json(rebalance::show(&state.app, id).await?))
}

#[utoipa::path(get, path = "/api/v1/rebalances/{id}", tag = "rebalances",
    params(("id" = i64, Path, description = "rebalance id")),
    responses((status = 200, body = PlanView), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn show(
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Admin)?;
    Ok(HttpResponse::Ok().json(rebalance::show(&state.app, id.into_inner()).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<i64>,
    before: Option<i64>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct RebalanceList {
    items: Vec<PlanSummary>,
    next_before: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/rebalances", tag = "rebalances", params(ListQuery),
    responses((status = 200, body = RebalanceList)),
    security(("bearer" = [])))]
pub async fn list(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Admin)?;
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    let items = rebalance::list(&state.app, query.before, limit).await?;
    let next_before = (items.len() as i64 == limit)
        .then(|| items.last().map(|p| p.id))
        .flatten();
    Ok(HttpResponse::Ok().json(RebalanceList { items, next_before }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanCommand {
    requested_by: String,
}

#[utoipa::path(post, path = "/api/v1/rebalances/{id}/{command}", tag = "rebalances",
    params(("id" = i64, Path, description = "rebalance id"),
           ("command" = String, Path, description = "pause | resume | cancel | retry")),
    request_body = PlanCommand,
    responses((status = 202, body = PlanView), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn command(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    body: web::Json<PlanCommand>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Migrations)?;
    let (id, verb) = path.into_inner();
    let command =
        Command::parse(&verb).ok_or_else(|| ApiError::not_found("not_found", "no such route"))?;
    let by = crate::moves::requester(state.app.settings(), &body.requested_by)?;
    rebalance::command(&state.app, id, command, by.as_str()).await?;
    Ok(HttpResponse::Accepted().json(rebalance::show(&state.app, id).await?))
}

//! `/api/v1/migrations`: request a move (audit entry + queue job in one
//! transaction), read progress, list, cancel.

use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::access::{Feature, require};
use super::idempotency;
use super::migration_view::{self, ErrorResponse, MigrationList, MigrationView};
use super::request_id::RequestId;
use super::{ApiError, AppState};
use crate::control::migrations::{MoveFilter, view};
use crate::domain::{MoveMode, MoveRequest, Status};
use crate::ids::{MoveId, ShardName, WebsiteId};
use crate::mover::MoveError;
use crate::moves;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMigration {
    website_id: i64,
    target_shard: String,
    requested_by: String,
    notes: Option<String>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    keep_source: bool,
    /// online (default: writes go on while the website is copied and are
    /// refused only in a short final freeze) | offline (writes refused for
    /// the whole move)
    #[schema(example = "online")]
    mode: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/migrations", tag = "migrations",
    request_body = CreateMigration,
    params(("Idempotency-Key" = Option<String>, Header, description = "repeat-safe request key")),
    responses(
        (status = 202, description = "recorded and queued", body = MigrationView),
        (status = 200, description = "dry run: the preflight report", body = Object),
        (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse),
        (status = 503, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn create(
    request: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<CreateMigration>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Migrations)?;
    let body = body.into_inner();
    let website = WebsiteId::new(body.website_id)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_website_id", e))?;
    let target = ShardName::parse(&body.target_shard)
        .map_err(|_| MoveError::UnknownShard(body.target_shard.clone()))?;
    let requested_by = moves::requester(state.app.settings(), &body.requested_by)?;
    let mode = parse_mode(body.mode.as_deref())?;
    let mover = &state.mover();
    if body.dry_run {
        let report = moves::preview(mover, website, &target).await?;
        return Ok(HttpResponse::Ok().json(report));
    }
    // Set for every request by the request-id middleware.
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), |id| id.0.clone());
    let key = idempotency::key(&request);
    let move_request = MoveRequest {
        website,
        target,
        keep_source: body.keep_source,
        batch_rows: None,
        requested_by: Some(requested_by),
        notes: body.notes,
        mode,
    };
    let origin = moves::Origin {
        request_id: &request_id,
        idempotency_key: key.as_deref(),
    };
    let record = moves::request(mover, &move_request, origin).await?;
    migration_view::accepted(&state, record.id).await
}

#[utoipa::path(get, path = "/api/v1/migrations/{id}", tag = "migrations",
    params(("id" = i64, Path, description = "migration id")),
    responses((status = 200, body = MigrationView), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn show(
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Admin)?;
    let id = MoveId::from(id.into_inner());
    Ok(HttpResponse::Ok().json(migration_view::load(&state, id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    website_id: Option<i64>,
    status: Option<String>,
    limit: Option<i64>,
    before: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/migrations", tag = "migrations", params(ListQuery),
    responses((status = 200, body = MigrationList), (status = 400, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn list(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Admin)?;
    let query = query.into_inner();
    let filter = MoveFilter {
        website: query
            .website_id
            .map(WebsiteId::new)
            .transpose()
            .map_err(ApiError::bad_request)?,
        status: query
            .status
            .as_deref()
            .map(str::parse::<Status>)
            .transpose()
            .map_err(ApiError::bad_request)?,
        before: query.before,
        limit: query.limit.unwrap_or(50).clamp(1, 500),
        ..MoveFilter::default()
    };
    let mut conn = state.app.control_pool().acquire().await?;
    let views = view::search(&mut conn, &filter).await?;
    let items: Vec<MigrationView> = views
        .into_iter()
        .map(|v| migration_view::render(v, budget_ms(&state)))
        .collect();
    let next_before = (items.len() as i64 == filter.limit)
        .then(|| items.last().map(|v| v.id))
        .flatten();
    Ok(HttpResponse::Ok().json(serde_json::json!({"items": items, "next_before": next_before})))
}

#[utoipa::path(post, path = "/api/v1/migrations/{id}/cancel", tag = "migrations",
    params(("id" = i64, Path, description = "migration id")),
    responses((status = 202, body = MigrationView), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn cancel(
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Migrations)?;
    let id = MoveId::from(id.into_inner());
    moves::cancel(&state.mover(), id).await?;
    Ok(HttpResponse::Accepted().json(migration_view::load(&state, id).await?))
}

/// The body's `mode`, online when absent.
fn parse_mode(mode: Option<&str>) -> Result<MoveMode, ApiError> {
    mode.map_or(Ok(MoveMode::default()), |text| {
        text.parse().map_err(|_| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_mode",
                format!("mode must be \"online\" or \"offline\", not {text:?}"),
            )
        })
    })
}

fn budget_ms(state: &AppState) -> u64 {
    state.app.settings().engine.freeze_budget_ms
}

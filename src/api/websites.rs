//! `/api/v1/websites`: where a website lives and its history; assignment of a
//! website without rows to a shard, one at a time or in bulk (preview first).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::access::{Feature, require};
use super::migration_view::ErrorResponse;
use super::{ApiError, AppState};
use crate::ids::WebsiteId;
use crate::moves;
use crate::shard_ops::{
    AssignRequest, Assignment, BulkPlan, BulkRequest, ShardOps, ShardOpsError, WebsiteView,
};

fn website_id(id: i64) -> Result<WebsiteId, ApiError> {
    WebsiteId::new(id)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_website_id", e))
}

/// A shard named in a body that is not configured is a bad request body (422), not a missing page.
fn body_error(error: ShardOpsError) -> ApiError {
    match error {
        e @ ShardOpsError::UnknownShard(_) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.one_line())
        }
        other => other.into(),
    }
}

#[utoipa::path(get, path = "/websites/{id}", tag = "websites",
    params(("id" = i64, Path, description = "website id")),
    responses((status = 200, body = WebsiteView), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn show(
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Admin)?;
    let website = website_id(id.into_inner())?;
    Ok(HttpResponse::Ok().json(ShardOps::new(&state.app).website(website).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignShard {
    shard: String,
    requested_by: String,
    notes: Option<String>,
}

#[utoipa::path(put, path = "/websites/{id}/shard", tag = "websites",
    params(("id" = i64, Path, description = "website id")), request_body = AssignShard,
    responses((status = 200, body = Assignment), (status = 404, body = ErrorResponse),
        (status = 409, description = "the website has rows (move it) or is being moved", body = ErrorResponse),
        (status = 422, body = ErrorResponse), (status = 503, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn assign(
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<AssignShard>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Assignment)?;
    let body = body.into_inner();
    let assign = AssignRequest {
        website: website_id(id.into_inner())?,
        target: body.shard,
        requested_by: Some(moves::requester(state.app.settings(), &body.requested_by)?.into()),
        notes: body.notes,
    };
    let done = ShardOps::new(&state.app)
        .assign(&assign)
        .await
        .map_err(body_error)?;
    Ok(HttpResponse::Ok().json(done))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkAssign {
    website_ids: Vec<i64>,
    target_shard: String,
    requested_by: String,
    notes: Option<String>,
    /// From the preview; without it nothing is changed.
    confirmation_token: Option<String>,
}

#[utoipa::path(post, path = "/websites/bulk-assign", tag = "websites",
    request_body = BulkAssign,
    responses((status = 200, description = "the preview, or the executed plan", body = BulkPlan),
        (status = 403, body = ErrorResponse),
        (status = 409, description = "the plan changed since the preview", body = ErrorResponse),
        (status = 422, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn bulk_assign(
    request: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<BulkAssign>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Assignment)?;
    let body = body.into_inner();
    if body.confirmation_token.is_some() {
        require(&request, &state, Feature::BulkOps)?;
    }
    let websites = body
        .website_ids
        .into_iter()
        .map(website_id)
        .collect::<Result<Vec<_>, _>>()?;
    let bulk = BulkRequest {
        websites,
        target: body.target_shard,
        requested_by: Some(moves::requester(state.app.settings(), &body.requested_by)?.into()),
        notes: body.notes,
        confirmation_token: body.confirmation_token,
    };
    let plan = ShardOps::new(&state.app)
        .bulk_assign(&bulk)
        .await
        .map_err(body_error)?;
    Ok(HttpResponse::Ok().json(plan))
}

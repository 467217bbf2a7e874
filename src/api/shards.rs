//! `/api/v1/shards`: the catalogue, health, statistics, distribution and the
//! recommended shard for a new website.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::access::{Feature, require};
use super::migration_view::ErrorResponse;
use super::{ApiError, AppState};
use crate::ids::WebsiteId;
use crate::shard_ops::{
    Distribution, HealthView, Recommendation, RowCounts, ShardDetail, ShardOps, ShardStatistics,
    ShardUpdate, ShardView,
};
use crate::shard_status::ShardStatus;

#[derive(Debug, Serialize, ToSchema)]
pub struct ShardList {
    pub items: Vec<ShardView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthList {
    pub items: Vec<HealthView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RefreshQuery {
    /// Probe now (in parallel, each under the probe timeout) and store the result.
    #[serde(default)]
    refresh: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CountQuery {
    /// Count every tenant table's rows (`count(*)`) instead of the catalogue's estimates.
    #[serde(default)]
    exact: bool,
}

#[utoipa::path(get, path = "/shards", tag = "shards",
    responses((status = 200, body = ShardList)), security(("bearer" = [])))]
pub async fn list(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Admin)?;
    let items = ShardOps::new(&state.app).list().await?;
    Ok(HttpResponse::Ok().json(ShardList { items }))
}

#[utoipa::path(get, path = "/shards/{name}", tag = "shards",
    params(("name" = String, Path)),
    responses((status = 200, body = ShardDetail), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn show(
    request: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Admin)?;
    Ok(HttpResponse::Ok().json(ShardOps::new(&state.app).show(&name).await?))
}

/// Absent fields stay as they are; `"capacity": null` removes the limit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchShard {
    /// provisioning | available | at_capacity | maintenance | decommissioned
    #[schema(value_type = Option<String>)]
    status: Option<ShardStatus>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    capacity: Option<Option<i64>>,
    /// Replaces every label (e.g. region, tier).
    labels: Option<BTreeMap<String, String>>,
    requested_by: String,
    notes: Option<String>,
}

/// Tells `"capacity": null` (Some(None)) from an absent field (None).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

#[utoipa::path(patch, path = "/shards/{name}", tag = "shards",
    params(("name" = String, Path)), request_body = PatchShard,
    responses((status = 200, body = ShardDetail), (status = 404, body = ErrorResponse),
        (status = 422, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn update(
    request: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    body: web::Json<PatchShard>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Admin)?;
    let body = body.into_inner();
    let requested_by = crate::moves::requester(state.app.settings(), &body.requested_by)?;
    let update = ShardUpdate {
        status: body.status,
        capacity: body.capacity,
        labels: body.labels,
    };
    let ops = ShardOps::new(&state.app);
    let detail = ops
        .update(
            &name,
            &update,
            Some(requested_by.as_str()),
            body.notes.as_deref(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(detail))
}

#[utoipa::path(get, path = "/shards/health", tag = "shards", params(RefreshQuery),
    responses((status = 200, body = HealthList)), security(("bearer" = [])))]
pub async fn health(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<RefreshQuery>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Admin)?;
    let all = ShardOps::new(&state.app)
        .health(query.refresh, true)
        .await?;
    Ok(HttpResponse::Ok().json(HealthList {
        items: all.into_values().collect(),
    }))
}

#[utoipa::path(get, path = "/shards/{name}/health", tag = "shards",
    params(("name" = String, Path), RefreshQuery),
    responses((status = 200, body = HealthView), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn shard_health(
    request: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    query: web::Query<RefreshQuery>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Admin)?;
    let ops = ShardOps::new(&state.app);
    Ok(HttpResponse::Ok().json(ops.shard_health(&name, query.refresh).await?))
}

#[utoipa::path(get, path = "/shards/{name}/statistics", tag = "shards",
    params(("name" = String, Path), CountQuery),
    responses((status = 200, body = ShardStatistics), (status = 404, body = ErrorResponse),
        (status = 503, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn statistics(
    request: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    query: web::Query<CountQuery>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Admin)?;
    let counts = RowCounts::exact_if(query.exact);
    Ok(HttpResponse::Ok().json(ShardOps::new(&state.app).statistics(&name, counts).await?))
}

#[utoipa::path(get, path = "/shards/distribution", tag = "shards",
    responses((status = 200, body = Distribution)), security(("bearer" = [])))]
pub async fn distribution(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Admin)?;
    Ok(HttpResponse::Ok().json(ShardOps::new(&state.app).distribution().await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RecommendQuery {
    /// Breaks ties between equally free shards (jump hash); stable per website.
    website_id: Option<i64>,
}

#[utoipa::path(get, path = "/shards/recommended", tag = "shards", params(RecommendQuery),
    responses((status = 200, body = Recommendation), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn recommended(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<RecommendQuery>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Admin)?;
    let website = query
        .website_id
        .map(WebsiteId::new)
        .transpose()
        .map_err(ApiError::bad_request)?;
    Ok(HttpResponse::Ok().json(ShardOps::new(&state.app).recommend(website).await?))
}

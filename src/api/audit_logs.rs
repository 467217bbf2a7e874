//! `/api/v1/audit-logs`: every shard change, newest first.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::access::{Feature, require};
use super::{ApiError, AppState};
use crate::control::audit_logs::{AuditEntry, AuditFilter};
use crate::ids::WebsiteId;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    website_id: Option<i64>,
    changed_by: Option<String>,
    limit: Option<i64>,
    before: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub items: Vec<AuditEntry>,
    /// Pass as `before` for the next page; null on the last page.
    pub next_before: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/audit-logs", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditList), (status = 400, body = super::migration_view::ErrorResponse)),
    security(("bearer" = [])))]
pub async fn list(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Admin)?;
    let query = query.into_inner();
    let filter = AuditFilter {
        website: query
            .website_id
            .map(WebsiteId::new)
            .transpose()
            .map_err(ApiError::bad_request)?,
        changed_by: query.changed_by.map(|e| e.trim().to_lowercase()),
        before: query.before,
        limit: query.limit.unwrap_or(50).clamp(1, 500),
    };
    let entries = state.mover().audit_log(&filter).await?;
    let next_before = (entries.len() as i64 == filter.limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(HttpResponse::Ok().json(AuditList {
        items: entries,
        next_before,
    }))
}

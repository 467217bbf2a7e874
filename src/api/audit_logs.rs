//! `/api/v1/audit-logs`: every shard change, newest first.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::access::{Feature, require};
use super::{ApiError, AppState};
use crate::control::audit_logs::AuditFilter;
use crate::ids::WebsiteId;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    website_id: Option<i64>,
    changed_by: Option<String>,
    limit: Option<i64>,
    before: Option<i64>,
}

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
    let entries = state.mover.audit_log(&filter).await?;
    let next_before = (entries.len() as i64 == filter.limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(HttpResponse::Ok().json(serde_json::json!({"items": entries, "next_before": next_before})))
}

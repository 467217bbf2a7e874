//! Who may call what: the bearer token, the rollout flags and the admin allow-list.

use actix_web::HttpRequest;
use actix_web::http::StatusCode;

use super::{ApiError, AppState, auth};

#[derive(Debug, Clone, Copy)]
pub enum Feature {
    /// Read routes (`SHARD_ADMIN_ENABLED`).
    Admin,
    /// Migration routes (`SHARD_MIGRATIONS_ENABLED`).
    Migrations,
    /// Assigning websites without rows to shards (`SHARD_ASSIGNMENT_ENABLED`).
    Assignment,
    /// Executing a bulk assignment (`SHARD_BULK_OPS_ENABLED`).
    BulkOps,
}

pub fn require(request: &HttpRequest, state: &AppState, feature: Feature) -> Result<(), ApiError> {
    let settings = state.app.settings();
    auth::check(request, settings.api.token.as_ref())?;
    let (enabled, flag) = match feature {
        Feature::Admin => (settings.flags.admin, "SHARD_ADMIN_ENABLED"),
        Feature::Migrations => (settings.flags.migrations, "SHARD_MIGRATIONS_ENABLED"),
        Feature::Assignment => (settings.flags.assignment, "SHARD_ASSIGNMENT_ENABLED"),
        Feature::BulkOps => (settings.flags.bulk_ops, "SHARD_BULK_OPS_ENABLED"),
    };
    if enabled {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "feature_disabled",
            format!("this route is disabled by {flag}=false"),
        ))
    }
}

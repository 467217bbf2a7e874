//! Liveness and readiness, open to load balancers (no token).

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{ApiError, AppState};

pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when the control database answers.
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    sqlx::query("SELECT 1")
        .execute(state.mover.control_pool())
        .await?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
}

//! Liveness and readiness, open to load balancers (no token).

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::jobs::supervisor::WorkerHealth;

pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when the control database answers and every worker this process
/// runs (under `serve`) is polling; one starting, restarting after it stopped
/// unexpectedly, or stopped for shutdown makes it 503. A worker off by
/// configuration (mail off) counts as ready. Failures are in the log, not here.
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    sqlx::query("SELECT 1")
        .execute(state.app.control_pool())
        .await?;
    let Some(workers) = &state.workers else {
        return Ok(HttpResponse::Ok().json(json!({"status": "ready"})));
    };
    let all = [&workers.moves, &workers.mail];
    let ready = all.iter().all(|w| w.state().is_ready());
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "workers": all.iter().map(|w| (w.name.to_owned(), view(w))).collect::<serde_json::Map<_, _>>(),
    });
    Ok(if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    })
}

fn view(worker: &WorkerHealth) -> Value {
    json!({
        "state": worker.state().as_str(),
        "restarts": worker.restarts(),
    })
}

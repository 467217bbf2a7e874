//! Liveness and readiness, open to load balancers (no token).

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::jobs::supervisor::{WorkerHealth, WorkerState};

pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when the control database answers and the workers this process runs
/// (under `serve`) are polling; a worker restarting after a database blip
/// makes it 503 until it polls again. Failures are in the log, not here.
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    sqlx::query("SELECT 1")
        .execute(state.app.control_pool())
        .await?;
    let Some(workers) = &state.workers else {
        return Ok(HttpResponse::Ok().json(json!({"status": "ready"})));
    };
    let all = [&workers.moves, &workers.mail];
    let restarting = all.iter().any(|w| w.state() == WorkerState::Restarting);
    let body = json!({
        "status": if restarting { "not_ready" } else { "ready" },
        "workers": all.iter().map(|w| (w.name.to_owned(), view(w))).collect::<serde_json::Map<_, _>>(),
    });
    Ok(if restarting {
        HttpResponse::ServiceUnavailable().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

fn view(worker: &WorkerHealth) -> Value {
    json!({
        "state": worker.state().as_str(),
        "restarts": worker.restarts(),
    })
}

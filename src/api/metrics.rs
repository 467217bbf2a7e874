//! `GET /metrics`: Prometheus text, outside `/api/v1` like `/health` but behind
//! the same bearer token (scrape with `authorization: {credentials: ...}`), since
//! it names shards, hosts and queue sizes.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{ApiError, AppState, auth};
use crate::jobs::supervisor::WorkerState;
use crate::jobs::worker::Workers;
use crate::shard_ops::ShardOps;
use crate::shard_ops::metrics::{CONTENT_TYPE, Exposition};

pub async fn metrics(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth::check(&request, state.app.settings().api.token.as_ref())?;
    let mut text = ShardOps::new(&state.app).metrics().await?;
    if let Some(workers) = &state.workers {
        text.push_str(&worker_families(workers));
    }
    Ok(HttpResponse::Ok().content_type(CONTENT_TYPE).body(text))
}

/// This process's workers: whether each polls, and how often it was started
/// again. A worker off by configuration (mail off) has no samples: it is not down.
fn worker_families(workers: &Workers) -> String {
    let mut out = Exposition::default();
    let all: Vec<_> = [&workers.moves, &workers.mail]
        .into_iter()
        .filter(|w| w.state() != WorkerState::Off)
        .collect();
    out.family(
        "shardmover_worker_up",
        "gauge",
        "1 while the worker polls its queue, 0 while it starts, restarts or has stopped.",
    );
    for worker in &all {
        let up = worker.state() == WorkerState::Running;
        out.sample(
            "shardmover_worker_up",
            &[("worker", worker.name)],
            f64::from(u8::from(up)),
        );
    }
    out.family(
        "shardmover_worker_restarts_total",
        "counter",
        "Times a worker stopped unexpectedly (a backend error, or its run ending without a shutdown) and was started again.",
    );
    for worker in &all {
        out.sample(
            "shardmover_worker_restarts_total",
            &[("worker", worker.name)],
            worker.restarts() as f64,
        );
    }
    out.finish()
}

//! `GET /metrics`: Prometheus text, outside `/api/v1` like `/health` but behind
//! the same bearer token (scrape with `authorization: {credentials: ...}`), since
//! it names shards, hosts and queue sizes.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{ApiError, AppState, auth};
use crate::shard_ops::{ShardOps, metrics::CONTENT_TYPE};

pub async fn metrics(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth::check(&request, state.mover.settings().api.token.as_ref())?;
    let text = ShardOps::new(&state.mover).metrics().await?;
    Ok(HttpResponse::Ok().content_type(CONTENT_TYPE).body(text))
}

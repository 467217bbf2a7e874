//! `POST /api/v1/migrations/{id}/finalize`: resumes the cleanup of a move past
//! its cutover. The website already lives on the target; this queues the job
//! that lifts what fences the target and deletes the source's rows. It never
//! goes back, so it is only for moves whose cutover committed.

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};

use super::access::{Feature, require};
use super::migration_view::{self, ErrorResponse, MigrationView};
use super::request_id::RequestId;
use super::{ApiError, AppState};
use crate::ids::MoveId;
use crate::moves;

#[utoipa::path(post, path = "/api/v1/migrations/{id}/finalize", tag = "migrations",
    params(("id" = i64, Path, description = "migration id")),
    responses(
        (status = 202, description = "the cleanup is queued (or already running)", body = MigrationView),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "the move is not past cutover, or has nothing left to clean", body = ErrorResponse),
        (status = 503, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn finalize(
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Migrations)?;
    let id = MoveId::from(id.into_inner());
    let request_id = request.extensions().get::<RequestId>().map(|r| r.0.clone());
    moves::finalize(&state.mover(), id, request_id).await?;
    migration_view::accepted(&state, id).await
}

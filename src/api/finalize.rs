//! `POST /api/v1/migrations/{id}/finalize`: resumes the cleanup of a move past
//! its cutover. The website already lives on the target; this queues the job
//! that lifts what fences the target and deletes the source's rows. It never
//! goes back, so it is only for moves whose cutover committed.

use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};

use super::access::{Feature, require};
use super::migration_view::{self, ErrorResponse, MigrationView};
use super::request_id::RequestId;
use super::{ApiError, AppState};
use crate::control::migrations::{self, MigrationRecord};
use crate::control::{Phase, Status};
use crate::ids::MigrationId;
use crate::mover::RequestMoveError;

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
    let id = MigrationId(id.into_inner());
    let mut tx = state.app.control_pool().begin().await?;
    // The queued job and the restarted retry budget commit together.
    let request_id = request.extensions().get::<RequestId>().map(|r| r.0.clone());
    let resumed = match state.mover().resume_cleanup(&mut tx, id, request_id).await {
        Ok(resumed) => resumed,
        Err(RequestMoveError::Refused(e)) => return Err(e.into()),
        Err(RequestMoveError::Record(e)) => return Err(e.into()),
        Err(RequestMoveError::Enqueue(e)) => return Err(queue_error(e)),
    };
    if let Some(record) = resumed {
        tx.commit().await?;
        tracing::info!(migration_id = %id, website_id = %record.website, "cleanup resumed");
        return accepted(&state, id).await;
    }
    let record = migrations::find(&mut tx, id)
        .await?
        .ok_or_else(|| unknown(id))?;
    drop(tx);
    if running_cleanup(&record) {
        // Its job is live (the sweeper sees to that): nothing more to queue.
        return accepted(&state, id).await;
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "cannot_finalize",
        refusal(&record),
    ))
}

fn running_cleanup(record: &MigrationRecord) -> bool {
    record.status == Status::InProgress && record.phase == Phase::Cleanup
}

fn refusal(record: &MigrationRecord) -> String {
    let id = record.id;
    match record.status {
        Status::Completed if record.keep_source => format!(
            "move {id} completed and kept its source rows on purpose; delete them with `shardmover finalize --website {}`",
            record.website
        ),
        Status::Completed => format!("move {id} completed: nothing is left to clean"),
        _ => format!(
            "move {id} is {} in phase {}: it is not past cutover, so there is no cleanup to resume",
            record.status, record.phase
        ),
    }
}

async fn accepted(state: &AppState, id: MigrationId) -> Result<HttpResponse, ApiError> {
    let mut conn = state.app.control_pool().acquire().await?;
    let view = migration_view::load(&mut conn, id, state.app.settings().engine.freeze_budget_ms)
        .await?
        .ok_or_else(|| unknown(id))?;
    Ok(HttpResponse::Accepted()
        .insert_header(("Location", format!("/api/v1/migrations/{id}")))
        .json(view))
}

fn unknown(id: MigrationId) -> ApiError {
    ApiError::not_found(
        "unknown_migration",
        format!("migration {id} does not exist"),
    )
}

fn queue_error(error: apalis_postgres::Error) -> ApiError {
    tracing::error!(error = %crate::db::logged(&error), "enqueueing the cleanup failed");
    ApiError::unavailable()
}

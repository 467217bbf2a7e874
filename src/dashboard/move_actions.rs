//! A move page's buttons: cancel a move (before cutover), resume a pending
//! cleanup (after it), as `POST …/cancel` and `POST …/finalize` do in the API.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::access::Feature;
use super::{Dashboard, PageError, Session, see_other};
use crate::ids::MigrationId;
use crate::mover::RequestMoveError;

#[derive(Debug, Deserialize)]
/// A button's form: only the CSRF token.
pub struct Button {
    #[serde(default)]
    csrf: String,
}

pub async fn cancel(
    dashboard: web::Data<Dashboard>,
    session: Session,
    id: web::Path<i64>,
    form: web::Form<Button>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&form.csrf)?;
    dashboard.require(Feature::Migrations)?;
    let id = MigrationId(id.into_inner());
    super::move_page::load(&dashboard, id).await?; // 404 for an unknown move
    if dashboard.mover().cancel(id).await? {
        tracing::info!(migration_id = %id, "move cancelled from the dashboard");
        Ok(see_other(&format!("/ui/moves/{id}")))
    } else {
        Err(PageError::new(
            StatusCode::CONFLICT,
            "cannot_cancel",
            format!("move {id} has ended or is past cutover"),
        ))
    }
}

/// Queues the cleanup of a `cleanup_pending` move with a fresh retry budget.
pub async fn finalize(
    dashboard: web::Data<Dashboard>,
    session: Session,
    id: web::Path<i64>,
    form: web::Form<Button>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&form.csrf)?;
    dashboard.require(Feature::Migrations)?;
    let id = MigrationId(id.into_inner());
    let mut tx = dashboard.app.control_pool().begin().await?;
    // The queued job and the restarted retry budget commit together.
    let request_id = Some(format!("dashboard-{}", uuid::Uuid::new_v4()));
    let resumed = match dashboard
        .mover()
        .resume_cleanup(&mut tx, id, request_id)
        .await
    {
        Ok(resumed) => resumed,
        Err(RequestMoveError::Refused(e)) => return Err(e.into()),
        Err(RequestMoveError::Record(e)) => return Err(e.into()),
        Err(RequestMoveError::Enqueue(e)) => {
            tracing::error!(error = %crate::db::logged(&e), "enqueueing the cleanup failed");
            return Err(PageError::unavailable());
        }
    };
    let Some(record) = resumed else {
        drop(tx);
        let details = super::move_page::load(&dashboard, id).await?; // 404 for an unknown move
        return Err(PageError::new(
            StatusCode::CONFLICT,
            "cannot_finalize",
            format!(
                "move {id} is {}: there is no pending cleanup to resume",
                details.status
            ),
        ));
    };
    tx.commit().await?;
    tracing::info!(migration_id = %id, website_id = %record.website, "cleanup resumed from the dashboard");
    Ok(see_other(&format!("/ui/moves/{id}")))
}

//! A move page's buttons: cancel a move (before cutover), resume a pending
//! cleanup (after it), as `POST …/cancel` and `POST …/finalize` do in the API.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::access::Feature;
use super::{Dashboard, PageError, Session, see_other};
use crate::ids::MoveId;
use crate::moves;

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
    let id = MoveId::from(id.into_inner());
    moves::cancel(&dashboard.mover(), id).await?;
    Ok(see_other(&format!("/ui/moves/{id}")))
}

/// Queues the cleanup of a `cleanup_pending` move with a fresh retry budget
/// (a cleanup already running is left to its job).
pub async fn finalize(
    dashboard: web::Data<Dashboard>,
    session: Session,
    id: web::Path<i64>,
    form: web::Form<Button>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&form.csrf)?;
    dashboard.require(Feature::Migrations)?;
    let id = MoveId::from(id.into_inner());
    let request_id = Some(format!("dashboard-{}", uuid::Uuid::new_v4()));
    moves::finalize(&dashboard.mover(), id, request_id).await?;
    Ok(see_other(&format!("/ui/moves/{id}")))
}

//! Cancelling a move from its page.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::access::Feature;
use super::{Dashboard, PageError, Session, see_other};
use crate::ids::MigrationId;

#[derive(Debug, Deserialize)]
pub struct Cancel {
    #[serde(default)]
    csrf: String,
}

pub async fn cancel(
    dashboard: web::Data<Dashboard>,
    session: Session,
    id: web::Path<i64>,
    form: web::Form<Cancel>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&form.csrf)?;
    dashboard.require(Feature::Migrations)?;
    let id = MigrationId(id.into_inner());
    super::move_page::load(&dashboard, id).await?; // 404 for an unknown move
    if dashboard.mover.cancel(id).await? {
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

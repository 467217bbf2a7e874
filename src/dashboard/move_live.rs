//! `/ui/moves/{id}/live`: the part of a move's page that changes, as an HTML
//! fragment the script swaps in every second (no page reload).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use minijinja::context;

use super::access::Feature;
use super::move_page::load;
use super::render::{html, render};
use super::{Dashboard, PageError, Session};
use crate::ids::MigrationId;

pub async fn fragment(
    dashboard: web::Data<Dashboard>,
    session: Session,
    id: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    dashboard.require(Feature::Admin)?;
    let details = load(&dashboard, MigrationId(id.into_inner())).await?;
    let ctx = context! { m => details, csrf => session.csrf, enabled => dashboard.enabled() };
    Ok(html(StatusCode::OK).body(render("move_live.html", ctx)?))
}

//! `/ui/moves/{id}/live`: the part of a move's page that changes, as an HTML
//! fragment the script swaps in every second (no page reload).

use actix_web::{HttpResponse, web};
use minijinja::context;

use super::access::Feature;
use super::move_page::load;
use super::render::fragment as render_fragment;
use super::{Dashboard, PageError, Session};
use crate::ids::MoveId;

pub async fn fragment(
    dashboard: web::Data<Dashboard>,
    session: Session,
    id: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    dashboard.require(Feature::Admin)?;
    let details = load(&dashboard, MoveId::from(id.into_inner())).await?;
    render_fragment(
        &dashboard,
        &session,
        "move_live.html",
        context! { m => details },
    )
}

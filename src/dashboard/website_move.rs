//! *Move this website*: **Preview** runs the dry run and shows the preflight
//! report; **Start** needs a clean preview's ticket (a tag over website and
//! target under this session) and the website id typed again, then records
//! the move, its audit entry and its queue job in one transaction, as the API does.

use actix_web::{HttpResponse, web};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::access::Feature;
use super::website::show;
use super::{Dashboard, PageError, Session, see_other};
use crate::domain::{MoveMode, MoveRequest};
use crate::ids::{EmailAddress, MoveId, ShardName, WebsiteId};
use crate::mover::{MoveError, PreflightReport};
use crate::moves;

#[derive(Debug, Deserialize, Serialize)]
pub struct MoveForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    target: String,
    #[serde(default)]
    requested_by: String,
    #[serde(default)]
    notes: String,
    /// online | offline; online when the form leaves it out.
    #[serde(default = "online")]
    mode: String,
    /// Start only: the clean preview's ticket and the retyped website id.
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    confirm: String,
}

fn online() -> String {
    MoveMode::Online.as_str().to_owned()
}

pub async fn preview(
    dashboard: web::Data<Dashboard>,
    session: Session,
    id: web::Path<String>,
    form: web::Form<MoveForm>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&form.csrf)?;
    dashboard.require(Feature::Migrations)?;
    let website: WebsiteId = id.parse().map_err(PageError::bad_request)?;
    match dry_run(&dashboard, &session, website, &form).await {
        Ok((report, ticket)) => {
            let state = context! { values => &*form, report, ticket };
            show(&dashboard, &session, website, state).await
        }
        Err(error) => refused(&dashboard, &session, website, &form, error).await,
    }
}

pub async fn start(
    dashboard: web::Data<Dashboard>,
    session: Session,
    id: web::Path<String>,
    form: web::Form<MoveForm>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&form.csrf)?;
    dashboard.require(Feature::Migrations)?;
    let website: WebsiteId = id.parse().map_err(PageError::bad_request)?;
    match begin(&dashboard, &session, website, &form).await {
        Ok(id) => Ok(see_other(&format!("/ui/moves/{id}"))),
        Err(error) => refused(&dashboard, &session, website, &form, error).await,
    }
}

/// The website's page with the form as filled in and the error in it, under the error's status.
async fn refused(
    dashboard: &Dashboard,
    session: &Session,
    website: WebsiteId,
    form: &MoveForm,
    error: PageError,
) -> Result<HttpResponse, PageError> {
    let state: Value = context! { values => form, error => error.shown() };
    let mut response = show(dashboard, session, website, state).await?;
    *response.status_mut() = error.status();
    Ok(response)
}

async fn dry_run(
    dashboard: &Dashboard,
    session: &Session,
    website: WebsiteId,
    form: &MoveForm,
) -> Result<(PreflightReport, String), PageError> {
    let (target, requested_by, mode) = checked(dashboard, form)?;
    let report = moves::preview(&dashboard.mover(), website, &target).await?;
    let ticket = ticket(
        dashboard,
        session,
        (website, &target, mode, requested_by.as_str()),
    )?;
    Ok((report, ticket))
}

async fn begin(
    dashboard: &Dashboard,
    session: &Session,
    website: WebsiteId,
    form: &MoveForm,
) -> Result<MoveId, PageError> {
    let (target, requested_by, mode) = checked(dashboard, form)?;
    let expected = ticket(
        dashboard,
        session,
        (website, &target, mode, requested_by.as_str()),
    )?;
    if !bool::from(form.ticket.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(PageError::unprocessable(
            "preview_required",
            "preview this move first: Start is possible only from a clean preview",
        ));
    }
    if form.confirm.trim() != website.to_string() {
        return Err(PageError::unprocessable(
            "confirmation_mismatch",
            format!("type the website id {website} to confirm the move"),
        ));
    }
    let request = MoveRequest {
        website,
        target,
        keep_source: false,
        batch_rows: None,
        requested_by: Some(requested_by),
        notes: Some(form.notes.trim().to_owned()).filter(|n| !n.is_empty()),
        mode,
    };
    record(dashboard, &request).await
}

/// The move, its audit entry and its job commit together or not at all.
async fn record(dashboard: &Dashboard, request: &MoveRequest) -> Result<MoveId, PageError> {
    let request_id = format!("dashboard-{}", uuid::Uuid::new_v4());
    let origin = moves::Origin {
        request_id: &request_id,
        idempotency_key: None,
    };
    Ok(moves::request(&dashboard.mover(), request, origin)
        .await?
        .id)
}

/// The form's target, requester and mode, parsed in the API's order, so a
/// form wrong twice is refused for what the API would name (a mode is checked
/// at preview too, so Start never meets a bad one first).
fn checked(
    dashboard: &Dashboard,
    form: &MoveForm,
) -> Result<(ShardName, EmailAddress, MoveMode), PageError> {
    let target = ShardName::parse(form.target.trim())
        .map_err(|_| MoveError::UnknownShard(form.target.clone()))?;
    let requested_by = moves::requester(dashboard.app.settings(), &form.requested_by)?;
    let mode = form.mode.trim().parse().map_err(|_| {
        PageError::unprocessable(
            "invalid_mode",
            format!("mode must be online or offline, not {:?}", form.mode),
        )
    })?;
    Ok((target, requested_by, mode))
}

/// What a clean preview allows to start, for this session: that website, to
/// that target, in that mode, for that requester — changing any needs a new preview.
fn ticket(
    dashboard: &Dashboard,
    session: &Session,
    (website, target, mode, requested_by): (WebsiteId, &ShardName, MoveMode, &str),
) -> Result<String, PageError> {
    dashboard.ticket(
        session,
        &format!("preview {website} {target} {mode} {requested_by}"),
    )
}

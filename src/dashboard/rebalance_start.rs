//! *Plan a rebalance*: **Preview** plans over the fleet as it is now and
//! shows every move, the refusals, the distribution before and after and the
//! estimate; **Start** needs that preview's token, this session's ticket over
//! it, and the number of moves typed again — the one figure every kind of
//! plan has, and the one that says how big a thing is being started. The
//! library then plans again and starts only if the plan is unchanged
//! (`409 plan_changed` otherwise, shown on the form).

use actix_web::{HttpResponse, web};
use minijinja::{Value, context};
use subtle::ConstantTimeEq;

use super::access::Feature;
use super::rebalance_form::PlanForm;
use super::rebalances::show;
use super::{Dashboard, PageError, Session, see_other};
use crate::rebalance::{self, Preview};

pub async fn preview(
    dashboard: web::Data<Dashboard>,
    session: Session,
    form: web::Form<PlanForm>,
) -> Result<HttpResponse, PageError> {
    dashboard.allow_form(&session, &form.csrf, Feature::Migrations)?;
    match dry_run(&dashboard, &session, &form).await {
        Ok((preview, ticket)) => {
            let state = context! { values => &*form, preview, ticket };
            show(&dashboard, &session, None, state).await
        }
        Err(error) => refused(&dashboard, &session, &form, error).await,
    }
}

pub async fn start(
    dashboard: web::Data<Dashboard>,
    session: Session,
    form: web::Form<PlanForm>,
) -> Result<HttpResponse, PageError> {
    dashboard.allow_form(&session, &form.csrf, Feature::Migrations)?;
    match begin(&dashboard, &session, &form).await {
        Ok(id) => Ok(see_other(&format!("/ui/rebalances/{id}"))),
        Err(error) => refused(&dashboard, &session, &form, error).await,
    }
}

/// The list page with the form as filled in and the error in it, under the error's status.
async fn refused(
    dashboard: &Dashboard,
    session: &Session,
    form: &PlanForm,
    error: PageError,
) -> Result<HttpResponse, PageError> {
    let state: Value = context! { values => form, error => error.shown() };
    let mut response = show(dashboard, session, None, state).await?;
    *response.status_mut() = error.status();
    Ok(response)
}

async fn dry_run(
    dashboard: &Dashboard,
    session: &Session,
    form: &PlanForm,
) -> Result<(Preview, String), PageError> {
    let request = form.request(dashboard.app.settings())?;
    let preview = rebalance::preview(&dashboard.app, &request).await?;
    let count = preview.moves.len().to_string();
    let ticket = ticket(dashboard, session, &preview.confirmation_token, &count)?;
    Ok((preview, ticket))
}

async fn begin(
    dashboard: &Dashboard,
    session: &Session,
    form: &PlanForm,
) -> Result<i64, PageError> {
    let request = form.request(dashboard.app.settings())?;
    let count = form.move_count.trim();
    let expected = ticket(dashboard, session, &form.confirmation_token, count)?;
    if !bool::from(form.ticket.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(PageError::unprocessable(
            "preview_required",
            "preview this plan first: Start is possible only from its preview",
        ));
    }
    if form.confirm.trim() != count {
        return Err(PageError::unprocessable(
            "confirmation_mismatch",
            format!("type the number of moves ({count}) to confirm the plan"),
        ));
    }
    Ok(rebalance::start(&dashboard.app, &request, &form.confirmation_token).await?)
}

/// What a preview in this session allows to start: the plan its token names,
/// of that many moves (so the number typed is checked against the preview's).
fn ticket(
    dashboard: &Dashboard,
    session: &Session,
    token: &str,
    count: &str,
) -> Result<String, PageError> {
    dashboard.ticket(session, &format!("rebalance {} {count}", token.trim()))
}

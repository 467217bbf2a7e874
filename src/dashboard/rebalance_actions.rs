//! A plan page's buttons: pause, resume, cancel and retry, as
//! `POST …/{command}` does in the API. Who asks is a form field, checked as
//! every change's requester is; a refusal (say `409 cannot_pause` once the
//! plan has ended) is shown on the plan page under its status.

use actix_web::{HttpResponse, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::access::Feature;
use super::rebalance_page::show;
use super::{Dashboard, PageError, Session, see_other};
use crate::rebalance::{self, Command};

#[derive(Debug, Deserialize, Serialize)]
pub struct CommandForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    requested_by: String,
}

pub async fn command(
    dashboard: web::Data<Dashboard>,
    session: Session,
    path: web::Path<(i64, String)>,
    form: web::Form<CommandForm>,
) -> Result<HttpResponse, PageError> {
    dashboard.allow_form(&session, &form.csrf, Feature::Migrations)?;
    let (id, verb) = path.into_inner();
    let command =
        Command::parse(&verb).ok_or_else(|| PageError::not_found("not_found", "no such page"))?;
    match apply(&dashboard, id, command, &form).await {
        Ok(()) => Ok(see_other(&format!("/ui/rebalances/{id}"))),
        Err(error) => {
            let state = context! { values => &*form, error => error.shown() };
            let mut response = show(&dashboard, &session, id, state).await?;
            *response.status_mut() = error.status();
            Ok(response)
        }
    }
}

async fn apply(
    dashboard: &Dashboard,
    id: i64,
    command: Command,
    form: &CommandForm,
) -> Result<(), PageError> {
    let by = crate::moves::requester(dashboard.app.settings(), &form.requested_by)?;
    Ok(rebalance::command(&dashboard.app, id, command, by.as_str()).await?)
}

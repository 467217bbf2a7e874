//! A shard's page: health now and recent probes, statistics, its websites,
//! the status/capacity change form (who asks is required) and recent changes.

use actix_web::{HttpResponse, web};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::access::Feature;
use super::render::page as render_page;
use super::{Dashboard, PageError, Session, see_other};
use crate::control::{probe_history, shard_websites};
use crate::ids::ShardName;
use crate::shard_ops::{RowCounts, ShardOps, ShardUpdate};
use crate::shard_status::ShardStatus;

const WEBSITES: i64 = 200;
const STATUSES: [&str; 5] = [
    "provisioning",
    "available",
    "at_capacity",
    "maintenance",
    "decommissioned",
];

#[derive(Debug, Deserialize, Serialize)]
pub struct Change {
    #[serde(default, skip_serializing)]
    csrf: String,
    status: String,
    /// Empty: no limit.
    #[serde(default)]
    capacity: String,
    #[serde(default)]
    requested_by: String,
    #[serde(default)]
    notes: String,
}

pub async fn page(
    dashboard: web::Data<Dashboard>,
    session: Session,
    name: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    dashboard.require(Feature::Admin)?;
    show(&dashboard, &session, &name, context! {}).await
}

pub async fn change(
    dashboard: web::Data<Dashboard>,
    session: Session,
    name: web::Path<String>,
    form: web::Form<Change>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&form.csrf)?;
    dashboard.require(Feature::Admin)?;
    match apply(&dashboard, &name, &form).await {
        Ok(()) => Ok(see_other(&format!("/ui/shards/{}", name.as_str()))),
        Err(error) => {
            let state = context! { values => &*form, error => error.shown() };
            let mut response = show(&dashboard, &session, &name, state).await?;
            *response.status_mut() = error.status();
            Ok(response)
        }
    }
}

async fn apply(dashboard: &Dashboard, name: &str, form: &Change) -> Result<(), PageError> {
    let requested_by = crate::moves::requester(dashboard.app.settings(), &form.requested_by)?;
    let status: ShardStatus =
        serde_json::from_value(serde_json::Value::String(form.status.clone())).map_err(|_| {
            PageError::unprocessable(
                "invalid_status",
                format!("unknown status {:?}", form.status),
            )
        })?;
    let capacity = match form.capacity.trim() {
        "" => None,
        text => Some(text.parse::<i64>().map_err(|_| {
            PageError::unprocessable(
                "invalid_capacity",
                "capacity must be a whole number or empty",
            )
        })?),
    };
    let update = ShardUpdate {
        status: Some(status),
        capacity: Some(capacity),
        labels: None,
    };
    let notes = Some(form.notes.trim()).filter(|n| !n.is_empty());
    ShardOps::new(&dashboard.app)
        .update(name, &update, Some(requested_by.as_str()), notes)
        .await?;
    Ok(())
}

async fn show(
    dashboard: &Dashboard,
    session: &Session,
    name: &str,
    form: Value,
) -> Result<HttpResponse, PageError> {
    let ops = ShardOps::new(&dashboard.app);
    let detail = ops.show(name).await?;
    // An unreachable shard still gets its page: the statistics say why they are missing.
    let (statistics, statistics_error) = match ops.statistics(name, RowCounts::Estimated).await {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(PageError::from(e).shown())),
    };
    let shard = ShardName::parse(name).map_err(PageError::bad_request)?;
    let mut conn = dashboard.app.control_pool().acquire().await?;
    let probes = probe_history::recent(&mut conn, name, 20).await?;
    let tenancy = &dashboard.app.settings().tenancy;
    let websites = shard_websites::on_shard(&mut conn, tenancy, &shard, 0, WEBSITES).await?;
    let values = context! {
        nav => "shards", s => detail, statistics, statistics_error, probes, websites,
        websites_limit => WEBSITES, statuses => STATUSES, form,
    };
    render_page(dashboard, session, "shard.html", values)
}

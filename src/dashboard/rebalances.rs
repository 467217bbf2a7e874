//! `/ui/rebalances`: every fleet plan, newest first, and the *Plan a
//! rebalance* form — which, once previewed, shows the plan and a Start form
//! on this same page (`rebalance_start`).

use actix_web::{HttpResponse, web};
use minijinja::{Value, context};
use serde::Deserialize;

use super::access::Feature;
use super::rebalance_form::PlanForm;
use super::render::{filtered_link, page as render_page};
use super::{Dashboard, PageError, Session};
use crate::rebalance;
use crate::shard_ops::ShardOps;

const PAGE: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct Older {
    before: Option<i64>,
}

pub async fn page(
    dashboard: web::Data<Dashboard>,
    session: Session,
    query: web::Query<Older>,
) -> Result<HttpResponse, PageError> {
    dashboard.require(Feature::Admin)?;
    show(&dashboard, &session, query.before, context! {}).await
}

/// The list and the form; `form` is the form's state: the values typed, and
/// the preview with its ticket or the error that refused them.
pub async fn show(
    dashboard: &Dashboard,
    session: &Session,
    before: Option<i64>,
    form: Value,
) -> Result<HttpResponse, PageError> {
    let plans = rebalance::list(&dashboard.app, before, PAGE).await?;
    let next_page = (plans.len() as i64 == PAGE)
        .then(|| {
            plans
                .last()
                .map(|p| filtered_link("/ui/rebalances", &[], p.id))
        })
        .flatten();
    let shards: Vec<String> = ShardOps::new(&dashboard.app)
        .list()
        .await?
        .into_iter()
        .filter(|shard| shard.configured)
        .map(|shard| shard.name)
        .collect();
    let values = context! {
        nav => "rebalances", plans, next_page, first_page => before.is_some(),
        shards, blank => PlanForm::default(), form,
    };
    render_page(dashboard, session, "rebalances.html", values)
}

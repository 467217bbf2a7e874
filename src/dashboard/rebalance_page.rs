//! A fleet plan's page: what it was asked to do, and a live region the
//! script refreshes every second from `/ui/rebalances/{id}/live` until the
//! plan ends — status and what it waits for, moves by state, rows and bytes
//! done, ETA, every move and the trail, and the controls its status allows.

use actix_web::{HttpResponse, web};
use minijinja::{Value, context};
use serde::Serialize;

use super::access::Feature;
use super::render::{fragment as render_fragment, page as render_page};
use super::{Dashboard, PageError, Session};
use crate::rebalance::{self, PlanView};

/// What the page and its live fragment show.
#[derive(Debug, Serialize)]
pub struct PlanPage {
    #[serde(flatten)]
    plan: PlanView,
    percent: f64,
    is_final: bool,
    /// The commands its status allows: pause, resume, retry, cancel.
    controls: Vec<&'static str>,
}

pub async fn page(
    dashboard: web::Data<Dashboard>,
    session: Session,
    id: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    dashboard.require(Feature::Admin)?;
    show(&dashboard, &session, id.into_inner(), context! {}).await
}

pub async fn fragment(
    dashboard: web::Data<Dashboard>,
    session: Session,
    id: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    dashboard.require(Feature::Admin)?;
    let plan = load(&dashboard, id.into_inner()).await?;
    render_fragment(
        &dashboard,
        &session,
        "rebalance_live.html",
        context! { p => plan },
    )
}

/// The page; `form` is the controls' state after a refused command.
pub async fn show(
    dashboard: &Dashboard,
    session: &Session,
    id: i64,
    form: Value,
) -> Result<HttpResponse, PageError> {
    let plan = load(dashboard, id).await?;
    let values = context! { nav => "rebalances", p => plan, form };
    render_page(dashboard, session, "rebalance.html", values)
}

async fn load(dashboard: &Dashboard, id: i64) -> Result<PlanPage, PageError> {
    let plan = rebalance::show(&dashboard.app, id).await?;
    let summary = &plan.summary;
    let failed = summary.moves.get("failed").copied().unwrap_or(0) > 0;
    Ok(PlanPage {
        percent: percent(summary.rows_done, summary.rows_total),
        is_final: summary.finished_at.is_some(),
        controls: controls(&summary.status, failed),
        plan,
    })
}

/// As `rebalance::command` allows them: pause a running (or waiting) plan,
/// resume a paused one, retry failed moves until the plan is cancelled, and
/// cancel anything not yet over.
fn controls(status: &str, failed: bool) -> Vec<&'static str> {
    let live = matches!(status, "running" | "waiting" | "paused");
    let allowed = [
        ("pause", matches!(status, "running" | "waiting")),
        ("resume", status == "paused"),
        (
            "retry",
            failed && (live || status == "completed_with_failures"),
        ),
        ("cancel", live),
    ];
    allowed
        .into_iter()
        .filter_map(|(command, ok)| ok.then_some(command))
        .collect()
}

/// Rows done as a share of the plan's, 0..100 to one decimal.
fn percent(done: i64, total: i64) -> f64 {
    if total <= 0 {
        return 0.0;
    }
    ((done as f64 * 1000.0 / total as f64).round() / 10.0).min(100.0)
}

#[cfg(test)]
mod tests {
    use super::controls;

    #[test]
    fn each_status_offers_only_the_commands_that_apply_to_it() {
        assert_eq!(controls("running", false), ["pause", "cancel"]);
        assert_eq!(controls("waiting", true), ["pause", "retry", "cancel"]);
        assert_eq!(controls("paused", false), ["resume", "cancel"]);
        assert_eq!(controls("completed_with_failures", true), ["retry"]);
        for over in ["cancelling", "completed", "cancelled"] {
            assert!(controls(over, true).is_empty(), "{over}");
        }
    }
}

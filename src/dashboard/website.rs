//! A website's page (reached from the search box on every page): its shard,
//! its rows there, every move and audit entry, and the *Move this website*
//! form with the placement's recommendation preselected.

use actix_web::{HttpResponse, web};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::access::Feature;
use super::render::page as render_page;
use super::{Dashboard, PageError, Session, see_other};
use crate::ids::WebsiteId;
use crate::shard_ops::{ShardOps, ShardOpsError};

#[derive(Debug, Deserialize)]
pub struct Search {
    #[serde(default)]
    website: String,
}

/// A target the form offers, or shows greyed out with the reason.
#[derive(Debug, Serialize)]
pub struct Target {
    pub shard: String,
    pub eligible: bool,
    pub reason: Option<String>,
    pub recommended: bool,
}

/// `/ui/search?website=42` → that website's page.
pub async fn search(
    dashboard: web::Data<Dashboard>,
    _session: Session,
    query: web::Query<Search>,
) -> Result<HttpResponse, PageError> {
    dashboard.require(Feature::Admin)?;
    let website: WebsiteId = query.website.parse().map_err(PageError::bad_request)?;
    Ok(see_other(&format!("/ui/websites/{website}")))
}

pub async fn page(
    dashboard: web::Data<Dashboard>,
    session: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    dashboard.require(Feature::Admin)?;
    let website: WebsiteId = id.parse().map_err(PageError::bad_request)?;
    show(&dashboard, &session, website, context! {}).await
}

/// The page, with `form` (a preview, an error, the operator's choices) when set.
pub async fn show(
    dashboard: &Dashboard,
    session: &Session,
    website: WebsiteId,
    form: Value,
) -> Result<HttpResponse, PageError> {
    let ops = ShardOps::new(&dashboard.app);
    // Independent reads (one counts the website's rows on its shard): at once.
    let (view, targets) = futures_util::join!(ops.website(website), targets(&ops, website));
    let (view, mut targets) = (view?, targets?);
    for target in targets.iter_mut() {
        if Some(target.shard.as_str()) == view.shard.as_deref() {
            target.eligible = false;
            target.recommended = false;
            target.reason = Some("the website is already here".into());
        }
    }
    let freeze_budget_ms = dashboard.app.settings().engine.freeze_budget_ms;
    let values = context! { nav => "website", w => view, targets, form, freeze_budget_ms };
    render_page(dashboard, session, "website.html", values)
}

/// Every shard: placement's pick first-class, ineligible ones with the reason.
async fn targets(ops: &ShardOps<'_>, website: WebsiteId) -> Result<Vec<Target>, PageError> {
    let (recommended, candidates) = match ops.recommend(Some(website)).await {
        Ok(r) => (Some(r.shard), r.candidates),
        Err(ShardOpsError::NoShardAvailable) => (None, Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let targets: Vec<Target> = if candidates.is_empty() {
        ops.list()
            .await?
            .into_iter()
            .map(|s| Target {
                shard: s.name,
                eligible: false,
                reason: Some("no shard accepts websites now".into()),
                recommended: false,
            })
            .collect()
    } else {
        candidates
            .into_iter()
            .map(|c| Target {
                recommended: recommended.as_deref() == Some(c.shard.as_str()),
                shard: c.shard,
                eligible: c.eligible,
                reason: c.reason,
            })
            .collect()
    };
    Ok(targets)
}

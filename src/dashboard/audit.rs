//! The audit log: every shard change of a website, by website, person and
//! day (UTC), newest first, 50 to a page.

use actix_web::{HttpResponse, web};
use chrono::{NaiveDate, TimeZone, Utc};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::access::Feature;
use super::render::{filtered_link, page as render_page};
use super::{Dashboard, PageError, Session};
use crate::control::audit_logs::{self, AuditFilter, Period};
use crate::ids::WebsiteId;

const PAGE: i64 = 50;

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Filters {
    #[serde(default)]
    website: String,
    #[serde(default)]
    changed_by: String,
    /// `YYYY-MM-DD`, UTC, inclusive.
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    before: Option<i64>,
}

pub async fn page(
    dashboard: web::Data<Dashboard>,
    session: Session,
    query: web::Query<Filters>,
) -> Result<HttpResponse, PageError> {
    dashboard.require(Feature::Admin)?;
    let filters = query.into_inner();
    let (filter, period) = parse(&filters)?;
    let mut conn = dashboard.app.control_pool().acquire().await?;
    let entries = audit_logs::list_in(&mut conn, &filter, period).await?;
    let next_page = (entries.len() as i64 == PAGE)
        .then(|| entries.last().map(|e| link(&filters, e.id)))
        .flatten();
    let values = context! { nav => "audit", entries, filters, next_page };
    render_page(&dashboard, &session, "audit.html", values)
}

fn parse(f: &Filters) -> Result<(AuditFilter, Period), PageError> {
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let day = |s: &str, days_after: i64| {
        text(s)
            .map(|d| {
                NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                    .map(|d| {
                        Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
                            + chrono::Duration::days(days_after)
                    })
                    .map_err(|_| PageError::bad_request(format!("dates are YYYY-MM-DD, got {d:?}")))
            })
            .transpose()
    };
    let filter = AuditFilter {
        website: text(&f.website)
            .map(|s| s.parse::<WebsiteId>())
            .transpose()
            .map_err(PageError::bad_request)?,
        changed_by: text(&f.changed_by).map(|s| s.to_lowercase()),
        before: f.before,
        limit: PAGE,
    };
    let period = Period {
        from: day(&f.from, 0)?,
        until: day(&f.until, 1)?,
    };
    Ok((filter, period))
}

fn link(f: &Filters, before: i64) -> String {
    let filters = [
        ("website", f.website.as_str()),
        ("changed_by", &f.changed_by),
        ("from", &f.from),
        ("until", &f.until),
    ];
    filtered_link("/ui/audit", &filters, before)
}

//! The move list: filters (status, website, shard, requester), newest first,
//! 50 to a page; each row links to its move.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::access::Feature;
use super::render::{filtered_link, page as render_page};
use super::{Dashboard, PageError, Session};
use crate::control::migrations::{self, MoveFilter, view};
use crate::domain::{MoveRecord, Status};
use crate::ids::{ShardName, WebsiteId};

const PAGE: i64 = 50;

/// The filter form's fields, as typed (empty means any).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Filters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    website: String,
    #[serde(default)]
    shard: String,
    #[serde(default)]
    requested_by: String,
    before: Option<i64>,
}

/// What every line and page of a move starts with: which move, from where
/// to where, and how far it is.
#[derive(Debug, Serialize)]
pub struct Heading {
    id: i64,
    website_id: i64,
    source_shard: String,
    target_shard: String,
    status: String,
    phase: String,
    percent: f64,
}

impl From<&MoveRecord> for Heading {
    fn from(r: &MoveRecord) -> Self {
        Self {
            id: r.id.get(),
            website_id: r.website.get(),
            source_shard: r.source.to_string(),
            target_shard: r.target.to_string(),
            status: r.status.to_string(),
            phase: r.phase.to_string(),
            percent: view::percent(r),
        }
    }
}

/// One move in a list, as this page and the overview draw it.
#[derive(Debug, Serialize)]
pub struct Line {
    #[serde(flatten)]
    heading: Heading,
    requested_by: Option<String>,
    error_code: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<MoveRecord> for Line {
    fn from(r: MoveRecord) -> Self {
        Self {
            heading: Heading::from(&r),
            requested_by: r.requested_by,
            error_code: r.error_code,
            created_at: r.created_at,
        }
    }
}

pub async fn page(
    dashboard: web::Data<Dashboard>,
    session: Session,
    query: web::Query<Filters>,
) -> Result<HttpResponse, PageError> {
    dashboard.require(Feature::Admin)?;
    let filters = query.into_inner();
    let filter = parse(&filters)?;
    let mut conn = dashboard.app.control_pool().acquire().await?;
    let records = migrations::list(&mut conn, &filter).await?;
    let next_before = (records.len() as i64 == PAGE)
        .then(|| records.last().map(|r| r.id.get()))
        .flatten();
    let rows: Vec<Line> = records.into_iter().map(Line::from).collect();
    let next_page = next_before.map(|before| page_link(&filters, before));
    let values = context! {
        nav => "moves", rows, filters, next_page,
        first_page => filters.before.is_some().then(|| page_link(&filters, 0)),
        statuses => Status::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    };
    render_page(&dashboard, &session, "moves.html", values)
}

fn parse(f: &Filters) -> Result<MoveFilter, PageError> {
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    Ok(MoveFilter {
        status: text(&f.status)
            .map(|s| s.parse::<Status>())
            .transpose()
            .map_err(PageError::bad_request)?,
        website: text(&f.website)
            .map(|s| s.parse::<WebsiteId>())
            .transpose()
            .map_err(PageError::bad_request)?,
        shard: text(&f.shard)
            .map(|s| ShardName::parse(&s))
            .transpose()
            .map_err(PageError::bad_request)?,
        requested_by: text(&f.requested_by).map(|s| s.to_lowercase()),
        before: f.before,
        limit: PAGE,
    })
}

/// The same filters, another page (`before` 0: the first).
fn page_link(f: &Filters, before: i64) -> String {
    let filters = [
        ("status", f.status.as_str()),
        ("website", &f.website),
        ("shard", &f.shard),
        ("requested_by", &f.requested_by),
    ];
    filtered_link("/ui/moves", &filters, before)
}

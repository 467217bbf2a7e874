//! The move list: filters (status, website, shard, requester), newest first,
//! 50 to a page; each row links to its move.

use actix_web::{HttpResponse, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::access::Feature;
use super::overview::percent;
use super::render::{filtered_link, page as render_page};
use super::{Dashboard, PageError, Session};
use crate::control::Status;
use crate::control::move_search::{self, MoveLine, MoveSearch};
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

#[derive(Debug, Serialize)]
struct Row {
    #[serde(flatten)]
    line: MoveLine,
    percent: f64,
}

pub async fn page(
    dashboard: web::Data<Dashboard>,
    session: Session,
    query: web::Query<Filters>,
) -> Result<HttpResponse, PageError> {
    dashboard.require(Feature::Admin)?;
    let filters = query.into_inner();
    let search = parse(&filters)?;
    let mut conn = dashboard.app.control_pool().acquire().await?;
    let lines = move_search::search(&mut conn, &search).await?;
    let next_before = (lines.len() as i64 == PAGE)
        .then(|| lines.last().map(|l| l.id))
        .flatten();
    let rows: Vec<Row> = lines
        .into_iter()
        .map(|line| Row {
            percent: percent(line.rows_copied, line.rows_total),
            line,
        })
        .collect();
    let next_page = next_before.map(|before| page_link(&filters, before));
    let values = context! {
        nav => "moves", rows, filters, next_page,
        first_page => filters.before.is_some().then(|| page_link(&filters, 0)),
        statuses => Status::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    };
    render_page(&dashboard, &session, "moves.html", values)
}

fn parse(f: &Filters) -> Result<MoveSearch, PageError> {
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    Ok(MoveSearch {
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

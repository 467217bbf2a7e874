//! Fleet plans in the dashboard over plain HTTP: the list and the form, a
//! preview with every move and the API's token, Start only with the number
//! of moves typed again and only for the plan previewed, and the plan page
//! (its controls are `dashboard_rebalance_controls`).

use reqwest::StatusCode;
use serde_json::json;

use crate::app::{TestApp, spawn_app};
use crate::operator::{Operator, Page};

pub const ADMIN: &str = "ops@example.com";

/// The value of the page's hidden field `name`.
pub fn field(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name}: {body}"))
        + marker.len();
    body[start..].split('"').next().unwrap().to_owned()
}

/// The form of a drain of shard_1 by ops@.
pub fn drain(csrf: &str) -> Vec<(&'static str, String)> {
    [
        ("csrf", csrf),
        ("kind", "drain"),
        ("shard", "shard_1"),
        ("requested_by", ADMIN),
        ("max_concurrent", "2"),
        ("per_shard", "1"),
    ]
    .map(|(k, v)| (k, v.to_owned()))
    .to_vec()
}

pub async fn post(operator: &Operator, path: &str, fields: &[(&str, String)]) -> Page {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    operator.post(path, &pairs).await
}

/// Previews a drain of shard_1; returns the Start form's fields, confirmation left to the caller.
pub async fn preview(operator: &Operator) -> (Page, Vec<(&'static str, String)>) {
    let csrf = operator.get("/ui/rebalances").await.csrf();
    let page = post(operator, "/ui/rebalances/preview", &drain(&csrf)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let mut start = drain(&csrf);
    for name in ["confirmation_token", "move_count", "ticket"] {
        start.push((name, field(&page.body, name)));
    }
    (page, start)
}

/// Previews and starts a drain of shard_1, typing `count`; returns the plan page's path.
pub async fn started(operator: &Operator, count: &str) -> String {
    let (_, mut start) = preview(operator).await;
    start.push(("confirm", count.to_owned()));
    let page = post(operator, "/ui/rebalances/start", &start).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    page.location.unwrap()
}

/// Asserts the page holds every part.
pub fn shows(body: &str, parts: &[&str]) {
    for part in parts {
        assert!(body.contains(part), "{part}: {body}");
    }
}

async fn plans(app: &TestApp) -> usize {
    let (_, body) = app.get("/api/v1/rebalances").await;
    body["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn the_overview_links_to_the_rebalances_page_which_lists_plans_and_offers_the_form() {
    let app = spawn_app().await;
    app.env.seed(1, "shard_1", 40).await;
    let operator = Operator::sign_in(&app).await;
    let overview = operator.get("/ui").await.body;
    assert!(
        overview.contains("href=\"/ui/rebalances\" id=\"plan-rebalance\">Plan a rebalance"),
        "{overview}"
    );
    let empty = operator.get("/ui/rebalances").await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.body);
    let form = [
        "id=\"plan-form\"",
        "<option value=\"shard_2\"",
        "id=\"kind-list\"",
    ];
    shows(&empty.body, &[&form[..], &["No plan yet."]].concat());

    let plan = started(&operator, "1").await;
    let id = plan.rsplit('/').next().unwrap();
    let link = format!("<a href=\"{plan}\">{id}</a>");
    let listed = operator.get("/ui/rebalances").await.body;
    shows(&listed, &[&link, "drain shard_1", "1 waiting", ADMIN]);
}

#[tokio::test]
async fn a_preview_shows_every_move_and_the_distribution_and_carries_the_apis_token() {
    let app = spawn_app().await;
    for website in 1..=3 {
        app.env.seed(website, "shard_1", 30 + website * 10).await;
    }
    let operator = Operator::sign_in(&app).await;
    let (page, start) = preview(&operator).await;
    let parts = [
        "id=\"rebalance-preview\"",
        "<strong>3 moves</strong>",
        "<a href=\"/ui/websites/2\">2</a>",
        "shard_1 → shard_2",
        "id=\"preview-rates\"",
        "default (no move measured)",
        "id=\"preview-distribution\"",
        "3 → 0",
        "Type the number of moves (3) to confirm",
    ];
    shows(&page.body, &parts);
    let (_, api) = app
        .post(
            "/api/v1/rebalances",
            json!({"kind": "drain", "shard": "shard_1", "requested_by": ADMIN,
                   "max_concurrent": 2, "per_shard": 1}),
        )
        .await;
    let token = &start
        .iter()
        .find(|(k, _)| *k == "confirmation_token")
        .unwrap()
        .1;
    assert_eq!(
        api["confirmation_token"],
        json!(token),
        "the same plan, the same token"
    );
    assert_eq!(plans(&app).await, 0, "a preview starts nothing");

    let csrf = start[0].1.clone();
    let mut bad = drain(&csrf);
    bad.retain(|(k, _)| *k != "requested_by");
    let refused = post(&operator, "/ui/rebalances/preview", &bad).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("invalid_requested_by") && refused.body.contains("id=\"plan-form\""),
        "{}",
        refused.body
    );
}

#[tokio::test]
async fn start_refuses_a_mistyped_count_with_422_and_the_form_and_the_right_count_opens_the_plan_page()
 {
    let app = spawn_app().await;
    for website in 1..=2 {
        app.env.seed(website, "shard_1", 40).await;
    }
    let operator = Operator::sign_in(&app).await;
    let (_, start) = preview(&operator).await;
    let mut mistyped = start.clone();
    mistyped.push(("confirm", "3".into()));
    let refused = post(&operator, "/ui/rebalances/start", &mistyped).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("confirmation_mismatch") && refused.body.contains("id=\"plan-form\""),
        "{}",
        refused.body
    );
    let mut unpreviewed = mistyped.clone();
    unpreviewed.retain(|(k, _)| *k != "ticket" && *k != "confirm");
    unpreviewed.push(("confirm", "2".into()));
    let refused = post(&operator, "/ui/rebalances/start", &unpreviewed).await;
    assert!(
        refused.body.contains("preview_required"),
        "{}",
        refused.body
    );
    assert_eq!(plans(&app).await, 0);

    let mut confirmed = start;
    confirmed.push(("confirm", "2".into()));
    let started = post(&operator, "/ui/rebalances/start", &confirmed).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let location = started.location.unwrap();
    assert!(location.starts_with("/ui/rebalances/"), "{location}");
    let page = operator.get(&location).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let live = format!("data-live=\"{location}/live\"");
    let parts = [
        "drain shard_1",
        "status-running",
        "2 waiting",
        "id=\"plan-pause\"",
        "id=\"plan-cancel\"",
        "<strong>started</strong> by ops@example.com",
        &live,
    ];
    shows(&page.body, &parts);
    assert!(!page.body.contains("id=\"plan-resume\""), "{}", page.body);
}

#[tokio::test]
async fn a_plan_changed_since_its_preview_is_refused_with_409_plan_changed_on_the_form() {
    let app = spawn_app().await;
    for website in 1..=2 {
        app.env.seed(website, "shard_1", 40).await;
    }
    let operator = Operator::sign_in(&app).await;
    let (_, mut start) = preview(&operator).await;
    start.push(("confirm", "2".into()));
    // A third website lands on shard_1: the drain is no longer the one previewed.
    app.env.seed(3, "shard_1", 40).await;
    let stale = post(&operator, "/ui/rebalances/start", &start).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert!(
        stale.body.contains("plan_changed") && stale.body.contains("id=\"plan-form\""),
        "{}",
        stale.body
    );
    assert_eq!(plans(&app).await, 0);
}

//! Every dashboard page answers with 10,000 moves (and their tables, phases
//! and audit entries) in the history, and lists come in pages of 50 whose
//! filters hold across pages. How fast they render is measured by
//! `shardmover bench-dashboard`, not here: a shared CI machine times nothing fairly.

use reqwest::StatusCode;
use shardmover::cli::samples::history as sample_history;

use crate::app::spawn_app;
use crate::operator::Operator;

const MOVES: i64 = 10_000;

#[tokio::test]
async fn every_page_answers_and_lists_come_in_pages_of_50_with_10000_moves_in_the_history() {
    let app = spawn_app().await;
    app.env.seed(7, "shard_1", 2_000).await;
    sample_history::seed(&app.env.control, 1, MOVES)
        .await
        .unwrap();
    let operator = Operator::sign_in(&app).await;
    let paths = [
        "/ui".to_owned(),
        "/ui/moves".to_owned(),
        "/ui/moves?before=5000".to_owned(),
        "/ui/moves?status=failed&shard=shard_2".to_owned(),
        "/ui/moves?requested_by=ops3%40example.com".to_owned(),
        "/ui/moves?website=7".to_owned(),
        format!("/ui/moves/{MOVES}"),
        format!("/ui/moves/{MOVES}/live"),
        "/ui/websites/7".to_owned(),
        "/ui/shards/shard_1".to_owned(),
        "/ui/audit".to_owned(),
        "/ui/rebalances".to_owned(),
        "/ui/audit?changed_by=ops1%40example.com&from=2020-01-01".to_owned(),
    ];
    // Pages of 50, newest first, and the filters hold across pages.
    let first = operator
        .get("/ui/moves?requested_by=ops3%40example.com")
        .await;
    assert_eq!(
        first.body.matches("<tr>").count(),
        1 + 50,
        "the header and 50 moves"
    );
    assert!(
        first
            .body
            .contains(&format!("href=\"/ui/moves/{}\"", MOVES - 2))
    );
    let next = first.body.split("id=\"next-page\"").next().unwrap();
    let next = next
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#x2f;", "/");
    assert!(
        next.starts_with("/ui/moves?requested_by=ops3%40example.com&before="),
        "{next}"
    );
    let older = operator.get(&next).await;
    assert!(!older.body.contains("ops1@example.com") && older.body.contains("ops3@example.com"));

    // Website 7 with more moves than its page lists: it links to all of them.
    for sql in [
        "UPDATE shardmover.migrations SET website_id = 7 WHERE id <= 60",
        "UPDATE shardmover.audit_logs SET website_id = 7 WHERE migration_id <= 60",
    ] {
        sqlx::query(sql).execute(&app.env.control).await.unwrap();
    }
    let website = operator.get("/ui/websites/7").await.body;
    assert!(
        website.contains("href=\"/ui/moves?website=7\" id=\"all-moves\"")
            && website.contains("href=\"/ui/audit?website=7\" id=\"all-audit\""),
        "{website}"
    );

    for path in &paths {
        let page = operator.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            page.server_ms.is_some(),
            "{path}: every dashboard answer says its time"
        );
    }
}

//! Each page shows what the operator comes to it for: the overview's shard
//! figures, capacity, queue and running moves; a move's attempts, ETA, notices
//! and audit entries; a shard's probes and websites; and the moves and audit
//! lists narrowed by their filters to exactly the matching entries.

use reqwest::StatusCode;
use serde_json::json;
use shardmover::ids::MoveId;
use shardmover::mover::Silent;

use crate::app::{closed_port, spawn_app_with};
use crate::operator::Operator;
use crate::smtp::mail_to;

#[tokio::test]
async fn each_page_shows_what_an_operator_comes_to_it_for() {
    // Mail configured (nothing delivers it here): finished moves get notices.
    let app = spawn_app_with(|s| mail_to(s, closed_port())).await;
    let env = &app.env;
    for website in [7, 8, 9, 10] {
        env.seed(website, "shard_1", 300).await;
    }
    let (status, body) = app
        .patch(
            "/api/v1/shards/shard_2",
            json!({"capacity": 10, "requested_by": "ops@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Website 7 moves to its end; 8 waits in the queue; 9 is running.
    let mut ids = Vec::new();
    for (website, who) in [
        (7, "ana@example.com"),
        (8, "ben@example.com"),
        (9, "ben@example.com"),
    ] {
        let (status, body) = app
            .post(
                "/api/v1/migrations",
                json!({"website_id": website, "target_shard": "shard_2", "requested_by": who}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        ids.push(body["id"].as_i64().unwrap());
    }
    let (done, waiting, running) = (ids[0], ids[1], ids[2]);
    app.mover.run(MoveId::from(done), &Silent).await.unwrap();
    sqlx::query(
        "UPDATE shardmover.migrations
            SET status = 'in_progress', phase = 'copying', attempts = 1, rows_total = 1000,
                rows_copied = 500, started_at = now() - interval '20 seconds'
          WHERE id = $1",
    )
    .bind(running)
    .execute(&env.control)
    .await
    .unwrap();
    let operator = Operator::sign_in(&app).await;

    let overview = operator.get("/ui").await.body;
    let row = |shard: &str| {
        let start = overview
            .find(&format!("<tr data-shard=\"{shard}\">"))
            .unwrap_or_else(|| panic!("no row for {shard}"));
        overview[start..].split("</tr>").next().unwrap().to_owned()
    };
    let shard_2 = row("shard_2");
    assert!(shard_2.contains("1 of 10"), "{shard_2}");
    assert!(
        shard_2.contains("<progress class=\"bar\" max=\"100\" value=\"10.0\""),
        "{shard_2}"
    );
    let shard_1 = row("shard_1");
    assert!(shard_1.contains("HEALTHY"), "{shard_1}");
    assert!(shard_1.contains(" ms</td>"), "latency: {shard_1}");
    assert!(shard_1.contains("(no limit)"), "{shard_1}");
    assert!(overview.contains("1 waiting, 1 running."), "{overview}");
    assert!(overview.contains(&format!(
        "<a href=\"/ui/moves/{waiting}\">move {waiting}</a>"
    )));
    assert!(
        overview.contains(&format!(
            "Move {running}</a>: website 9, shard_1 → shard_2, copying, 50.0%"
        )),
        "{overview}"
    );

    let finished = operator.get(&format!("/ui/moves/{done}")).await.body;
    assert!(finished.contains("Attempts: 1."), "{finished}");
    assert!(
        finished.contains("to ana@example.com: <strong>pending</strong>"),
        "{finished}"
    );
    assert!(
        finished.contains("shard_1 → shard_2, <span class=\"badge status-completed\">completed</span> by ana@example.com"),
        "{finished}"
    );
    let live = operator
        .get(&format!("/ui/moves/{running}/live"))
        .await
        .body;
    assert!(live.contains("500 of 1000 rows"), "{live}");
    assert!(live.contains(" left</p>"), "an ETA: {live}");

    let shard = operator.get("/ui/shards/shard_2").await.body;
    assert!(
        shard.contains("<a href=\"/ui/websites/7\">7</a>"),
        "{shard}"
    );
    let probes = shard.split("id=\"probes\"").nth(1).unwrap();
    assert!(!probes.contains("Never probed."), "{probes}");
    assert!(probes.contains("HEALTHY"), "{probes}");

    let audit = operator
        .get("/ui/audit?changed_by=ben%40example.com")
        .await
        .body;
    let rows = audit.split("<tbody>").nth(1).unwrap();
    assert_eq!(rows.matches("<tr>").count(), 2, "{rows}");
    assert!(!rows.contains("ana@example.com"), "{rows}");

    for (filter, expected) in [
        ("status=completed", vec![done]),
        ("website=8", vec![waiting]),
        ("requested_by=ben%40example.com", vec![running, waiting]),
        ("status=in_progress&shard=shard_1", vec![running]),
    ] {
        let list = operator.get(&format!("/ui/moves?{filter}")).await;
        assert_eq!(list.status, StatusCode::OK, "{filter}");
        let listed: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| list.body.contains(&format!("href=\"/ui/moves/{id}\"")))
            .collect();
        let mut expected = expected;
        expected.sort_unstable();
        assert_eq!(listed, expected, "moves?{filter}");
    }

    // A preview shows the notes preflight makes: here, capture some crash left
    // on shard_1 for a move that has ended.
    sqlx::query(
        "INSERT INTO shardmover.captured_websites (website_id, migration_id) VALUES (99, $1)",
    )
    .bind(done)
    .execute(env.as_mover("shard_1"))
    .await
    .unwrap();
    let csrf = operator.get("/ui/websites/10").await.csrf();
    let preview = operator
        .post(
            "/ui/websites/10/preview",
            &[
                ("csrf", csrf.as_str()),
                ("target", "shard_2"),
                ("requested_by", "ops@example.com"),
                ("mode", "online"),
            ],
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(
        preview.body.contains("Preflight report: clean, with notes"),
        "{}",
        preview.body
    );
    assert!(
        preview.body.contains("still captures website 99"),
        "{}",
        preview.body
    );
}

//! A plan's mail through a real SMTP server: one summary when the plan ends,
//! listing its moves, instead of a notice per move; a move of a plan still
//! mails its own failure; each ending of a plan is mailed once.

use std::sync::Arc;

use serde_json::{Value, json};
use shardmover::mail::Notifier;

use crate::app::{TestApp, spawn_app_with};
use crate::helpers::{delete_rows, seed_rows_only};
use crate::mail::{Parsed, parse};
use crate::rebalance::{command, run_to_end, start, step, view};
use crate::smtp::{SmtpServer, mail_to};

/// The plans' requester; `mail.notify` is ops@example.com.
const LEAD: &str = "lead@example.com";

/// An SMTP server, an app that mails through it with websites 1..=`websites`
/// on shard_1, and the notifier that delivers its notices.
async fn mailing_app(websites: i64) -> (SmtpServer, TestApp, Arc<Notifier>) {
    let smtp = SmtpServer::start();
    let app = spawn_app_with(|settings| mail_to(settings, smtp.port)).await;
    let settings = Arc::new(app.mover.app().settings().clone());
    let notifier = Notifier::new(app.env.control.clone(), settings)
        .unwrap()
        .expect("mail is on");
    for website in 1..=websites {
        app.env.seed(website, "shard_1", 40).await;
    }
    (smtp, app, Arc::new(notifier))
}

/// A list plan moving `websites` (seeded on shard_1) to shard_2, one at a time.
async fn plan(app: &TestApp, websites: &[i64]) -> i64 {
    let moves: Vec<Value> = websites
        .iter()
        .map(|w| json!({"website_id": w, "target_shard": "shard_2"}))
        .collect();
    start(
        app,
        json!({"kind": "list", "moves": moves, "requested_by": LEAD, "max_concurrent": 1}),
    )
    .await
}

/// The mails received so far whose subject starts with `prefix`, by recipient.
fn mails(smtp: &SmtpServer, prefix: &str) -> Vec<(Vec<String>, Parsed)> {
    let mut found: Vec<_> = smtp
        .received()
        .iter()
        .map(|m| (m.to.clone(), parse(m)))
        .filter(|(_, p)| p.subject.starts_with(prefix))
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

fn move_of(view: &Value, website: i64) -> i64 {
    let items = view["items"].as_array().unwrap();
    let item = items.iter().find(|i| i["website_id"] == website).unwrap();
    item["migration_id"].as_i64().unwrap()
}

async fn move_notices(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM shardmover.notifications WHERE migration_id IS NOT NULL",
    )
    .fetch_one(&app.env.control)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_plan_of_three_moves_mails_one_summary_listing_them_and_no_completed_notices() {
    let (smtp, app, notifier) = mailing_app(3).await;
    let id = plan(&app, &[1, 2, 3]).await;
    let ended = run_to_end(&app, id).await;
    assert_eq!(ended["status"], "completed", "{ended}");
    assert_eq!(
        move_notices(&app).await,
        0,
        "a plan's completed moves say nothing"
    );
    assert_eq!(
        app.env.drain_notices(&notifier).await,
        2,
        "one per recipient"
    );
    // The driver steps on (another worker process, say): the plan ended once.
    step(&app).await;
    assert_eq!(app.env.drain_notices(&notifier).await, 0);

    assert_eq!(smtp.received().len(), 2, "the summary alone");
    let summaries = mails(&smtp, &format!("[shardmover] rebalance {id} "));
    let to: Vec<&[String]> = summaries.iter().map(|(to, _)| &to[..]).collect();
    assert_eq!(to, [["lead@example.com"], ["ops@example.com"]]);
    let (mail, other) = (&summaries[0].1, &summaries[1].1);
    assert_eq!(mail.message_id, other.message_id, "the same notice");
    assert!(
        mail.message_id
            .starts_with(&format!("rebalance-{id}.completed.")),
        "{}",
        mail.message_id
    );
    assert_eq!(
        mail.subject,
        format!("[shardmover] rebalance {id} (list) — completed: 3 of 3 moves completed")
    );
    let mut lines: Vec<String> = (1..=3)
        .map(|website| {
            let id = move_of(&ended, website);
            format!("  website {website}: shard_1 -> shard_2, completed, move {id}")
        })
        .collect();
    lines.push("Moves:        3: 3 completed, 0 failed, 0 cancelled".into());
    lines.push("Requested by: lead@example.com".into());
    lines.push(format!("Details: http://127.0.0.1:8080/ui/rebalances/{id}"));
    for line in &lines {
        let found = mail.text.lines().any(|l| l == line);
        assert!(found, "{line:?} not in:\n{}", mail.text);
    }
    let row = "<td align=\"right\">2</td><td>shard_1 &rarr; shard_2</td><td>completed</td>";
    assert!(mail.html.contains(row), "{}", mail.html);
}

#[tokio::test]
async fn a_failed_move_of_a_plan_mails_its_failure_and_each_ending_of_the_plan_one_summary() {
    let (smtp, app, notifier) = mailing_app(2).await;
    // Website 1 already has rows on the target: its move fails in preflight.
    seed_rows_only(&app.env, 1, "shard_2").await;
    let id = plan(&app, &[1, 2]).await;
    let ended = run_to_end(&app, id).await;
    assert_eq!(ended["status"], "completed_with_failures", "{ended}");
    assert_eq!(app.env.drain_notices(&notifier).await, 4);

    let failures = mails(&smtp, "[shardmover] website 1 move to shard_2 — failed");
    assert_eq!(failures.len(), 2, "the failure, to both recipients");
    assert!(mails(&smtp, "[shardmover] website 2").is_empty());
    let summary = mails(&smtp, &format!("[shardmover] rebalance {id} "));
    assert_eq!(summary.len(), 2);
    let first = &summary[0].1;
    assert_eq!(
        first.subject,
        format!(
            "[shardmover] rebalance {id} (list) — completed with failures: 1 of 2 moves completed, 1 failed"
        )
    );
    let failed = format!(
        "  website 1: shard_1 -> shard_2, failed, move {}; ",
        move_of(&ended, 1)
    );
    assert!(
        first.text.contains(&failed),
        "{failed:?} not in:\n{}",
        first.text
    );
    assert!(first.text.contains(&format!(
        "/rebalances/{id}/retry` puts the failed moves back"
    )));

    // Retried, the plan ends again, and that ending is summarised too.
    delete_rows(&app.env, 1, "shard_2").await;
    assert_eq!(command(&app, id, "retry").await.0, 202);
    let ended = run_to_end(&app, id).await;
    assert_eq!(ended["status"], "completed", "{ended}");
    assert_eq!(
        app.env.drain_notices(&notifier).await,
        2,
        "the summary alone"
    );
    let summaries = mails(&smtp, &format!("[shardmover] rebalance {id} "));
    let again: Vec<&Parsed> = summaries
        .iter()
        .map(|(_, m)| m)
        .filter(|m| m.subject.ends_with("— completed: 2 of 2 moves completed"))
        .collect();
    assert_eq!(again.len(), 2, "{:?}", smtp.received().len());
    assert_ne!(again[0].message_id, first.message_id, "another ending");
}

#[tokio::test]
async fn a_cancelled_plan_mails_its_summary_and_nothing_for_the_move_its_cancel_stopped() {
    let (smtp, app, notifier) = mailing_app(2).await;
    let id = plan(&app, &[1, 2]).await;
    step(&app).await;
    assert_eq!(view(&app, id).await["moves"]["running"], 1);
    assert_eq!(command(&app, id, "cancel").await.0, 202);
    step(&app).await;
    app.drain_queue().await;
    step(&app).await;
    let ended = view(&app, id).await;
    assert_eq!(ended["status"], "cancelled", "{ended}");
    assert_eq!(ended["moves"]["cancelled"], 2, "{ended}");

    assert_eq!(
        app.env.drain_notices(&notifier).await,
        2,
        "the summary alone"
    );
    assert_eq!(move_notices(&app).await, 0);
    let summary = mails(&smtp, &format!("[shardmover] rebalance {id} "));
    assert_eq!(summary.len(), 2);
    let text = &summary[0].1.text;
    assert!(
        text.contains(&format!("Rebalance {id} was cancelled")),
        "{text}"
    );
    assert!(
        text.contains("website 2: shard_1 -> shard_2, cancelled; the plan was cancelled"),
        "{text}"
    );
}

#[tokio::test]
async fn a_move_its_plan_requested_is_the_plan_s_before_the_plan_names_it_and_a_borrowed_request_id_makes_no_move_a_plan_s()
 {
    let (smtp, app, notifier) = mailing_app(3).await;
    let id = plan(&app, &[1, 2]).await;
    // As the plan's step requests a move, and the move ends before the step
    // records it on the plan (the step died in between, say).
    let request_id = format!("rebalance-{id}");
    for website in [1, 3] {
        let request = shardmover::domain::MoveRequest {
            website: crate::helpers::website(website),
            target: crate::helpers::shard("shard_2"),
            keep_source: false,
            batch_rows: None,
            requested_by: shardmover::ids::EmailAddress::parse(LEAD).ok(),
            notes: None,
            mode: Default::default(),
        };
        let origin = shardmover::moves::Origin {
            request_id: &request_id,
            idempotency_key: None,
        };
        shardmover::moves::request(&app.mover, &request, origin)
            .await
            .unwrap();
    }
    app.drain_queue().await;
    assert_eq!(app.env.drain_notices(&notifier).await, 2);
    let received = mails(&smtp, "[shardmover] website ");
    let subjects: Vec<&str> = received.iter().map(|(_, m)| &m.subject[..]).collect();
    // Website 3 is no move of the plan, whatever its request id says.
    assert_eq!(
        subjects,
        ["[shardmover] website 3 moved to shard_2 — completed"; 2]
    );
}

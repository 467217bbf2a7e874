//! Notices about moves, sent through a real SMTP server: who gets them, what
//! they say, and that each final event is mailed exactly once.

use std::sync::Arc;

use mail_parser::MessageParser;
use shardmover::control::notifications::{self, Notification};
use shardmover::control::tables;
use shardmover::ids::MoveId;
use shardmover::jobs;
use shardmover::jobs::MoveJob;
use shardmover::mail::{Delivery, Notifier};
use shardmover::mover::{Mover, Silent};

use crate::helpers::{TestEnv, dump, fences, rot_a_copied_row, shardmover_cli};
use crate::smtp::{Received, SmtpServer, mail_to};

/// A mover and a notifier that mail through the SMTP server on `port`.
fn mailing(env: &TestEnv, port: u16) -> (Mover, Notifier) {
    mailing_with(env, port, |_| {})
}

fn mailing_with(
    env: &TestEnv,
    port: u16,
    change: impl FnOnce(&mut shardmover::config::Settings),
) -> (Mover, Notifier) {
    let mut settings = env.settings.clone();
    mail_to(&mut settings, port);
    change(&mut settings);
    let settings = Arc::new(settings);
    let notifier = Notifier::new(env.control.clone(), settings.clone())
        .unwrap()
        .expect("mail is on");
    (
        crate::helpers::new_mover(settings, env.control.clone()),
        notifier,
    )
}

async fn notices(env: &TestEnv, id: MoveId) -> Vec<Notification> {
    let mut conn = env.control.acquire().await.unwrap();
    notifications::list_for_migration(&mut conn, id)
        .await
        .unwrap()
}

pub(crate) struct Parsed {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub message_id: String,
}

pub(crate) fn parse(message: &Received) -> Parsed {
    let parsed = MessageParser::default()
        .parse(&message.data)
        .expect("a MIME message");
    Parsed {
        subject: parsed.subject().unwrap_or_default().to_owned(),
        text: parsed.body_text(0).expect("a text part").into_owned(),
        html: parsed.body_html(0).expect("an HTML part").into_owned(),
        message_id: parsed.message_id().unwrap_or_default().to_owned(),
    }
}

#[tokio::test]
async fn a_completed_move_mails_the_requester_and_the_ops_list_once_with_its_checksums() {
    let env = TestEnv::new().await;
    let smtp = SmtpServer::start();
    let (mover, notifier) = mailing(&env, smtp.port);
    let notifier = Arc::new(notifier);
    env.seed(7, "shard_1", 2_000).await;
    let id = env.request(&mover, 7, "shard_2", 500).await;
    let mover = Arc::new(mover);
    let job = MoveJob {
        migration_id: id,
        request_id: None,
    };
    jobs::run_move(job.clone(), apalis::prelude::Data::new(mover.clone()))
        .await
        .unwrap();
    assert_eq!(env.drain_notices(&notifier).await, 2, "one per recipient");
    // The move's job delivered again (a worker died after the move ended): no second notice.
    jobs::run_move(job, apalis::prelude::Data::new(mover.clone()))
        .await
        .unwrap();
    assert_eq!(env.drain_notices(&notifier).await, 0);

    let mut received = smtp.received();
    assert_eq!(received.len(), 2, "exactly one notice each");
    received.sort_by(|a, b| a.to.cmp(&b.to));
    assert_eq!(received[0].to, ["ops@example.com"]);
    assert_eq!(received[1].to, ["test@example.com"]);
    let first = parse(&received[0]);
    let message = &received[1];
    assert_eq!(message.from, "shardmover@ops.example.com");
    let mail = parse(message);
    assert_eq!(first.message_id, mail.message_id, "the same notice");
    assert_eq!(first.text, mail.text);
    assert_eq!(
        mail.subject,
        "[shardmover] website 7 moved to shard_2 — completed"
    );
    let created: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT created_at FROM shardmover.migrations WHERE id = $1")
            .bind(id.get())
            .fetch_one(&env.control)
            .await
            .unwrap();
    assert_eq!(
        mail.message_id,
        format!(
            "move-{}.completed.{}@ops.example.com",
            id.get(),
            created.timestamp_millis()
        )
    );
    let tables = {
        let mut conn = env.control.acquire().await.unwrap();
        tables::list(&mut conn, id).await.unwrap()
    };
    assert!(tables.len() >= 4);
    for table in &tables {
        let checksum = table.source_checksum.as_deref().unwrap();
        let line = format!(
            "  {}: {} rows; {checksum} / {checksum} (match)",
            table.name, table.rows_copied
        );
        assert!(mail.text.contains(&line), "{line:?} not in:\n{}", mail.text);
        assert!(
            mail.html.contains(checksum),
            "{checksum} not in the HTML part"
        );
    }
    for needle in [
        "Website 7 now lives on shard_2",
        "Route:        shard_1 -> shard_2",
        "Requested by: test@example.com",
        &format!("http://127.0.0.1:8080/api/v1/migrations/{}", id.get()),
    ] {
        assert!(
            mail.text.contains(needle),
            "{needle:?} not in:\n{}",
            mail.text
        );
    }
    assert!(
        mail.html.contains("shard_1 &rarr; shard_2"),
        "{}",
        mail.html
    );
    assert!(!mail.text.contains("How to retry"));

    let recorded = notices(&env, id).await;
    assert_eq!(recorded.len(), 2);
    for notice in &recorded {
        assert_eq!((notice.status.as_str(), notice.attempts), ("sent", 1));
        assert!(notice.sent_at.is_some());
    }
    // Nor does an attempt to end the move again, with another outcome.
    let mut conn = env.control.acquire().await.unwrap();
    let attempt = shardmover::control::migrations::find(&mut conn, id)
        .await
        .unwrap()
        .unwrap()
        .attempts;
    let again = shardmover::control::migrations::finish(
        &mut conn,
        id,
        attempt,
        shardmover::domain::Status::Failed,
    )
    .await
    .unwrap();
    assert!(again.is_none(), "a move ends once");
}

#[tokio::test]
async fn a_failed_move_mail_names_the_phase_the_error_and_the_state_the_data_was_left_in() {
    let env = TestEnv::new().await;
    let smtp = SmtpServer::start();
    let (mover, notifier) = mailing(&env, smtp.port);
    env.seed(7, "shard_1", 3_000).await;
    let id = env.request_offline(&mover, 7, "shard_2", 100).await;
    // Rot a row the copy already committed on the target: verification must fail.
    let interlude = rot_a_copied_row(&env);
    assert_eq!(
        mover.run(id, &interlude).await.unwrap_err().code(),
        "checksum_mismatch"
    );
    assert!(dump(&env.shard_2, 7).await.is_empty() && fences(&env, "shard_1").await.is_empty());
    for notice in notices(&env, id).await {
        assert_eq!(
            jobs::deliver(&notifier, notice.id).await.unwrap(),
            Delivery::Sent
        );
    }

    let received = smtp.received();
    assert_eq!(received.len(), 2, "the requester and the ops list");
    let mail = parse(&received[0]);
    assert_eq!(
        mail.subject,
        "[shardmover] website 7 move to shard_2 — failed"
    );
    for needle in [
        "The move of website 7 from shard_1 to shard_2 failed.",
        "Phase:        verifying",
        "Error:        checksum_mismatch: ",
        "shard_1 is unchanged and its write fence is lifted",
        "Every row this move wrote to shard_2 was deleted (rolled back).",
        "How to retry:",
        "shardmover migrate --website 7 --to shard_2",
    ] {
        assert!(
            mail.text.contains(needle),
            "{needle:?} not in:\n{}",
            mail.text
        );
    }
    assert!(mail.html.contains("checksum_mismatch"));
    assert!(mail.html.contains("its write fence is lifted"));
}

#[tokio::test]
async fn a_move_cancelled_in_the_queue_mails_a_cancellation() {
    let env = TestEnv::new().await;
    let smtp = SmtpServer::start();
    let (mover, notifier) = mailing(&env, smtp.port);
    env.seed(7, "shard_1", 100).await;
    let id = env.request(&mover, 7, "shard_2", 100).await;
    assert!(mover.cancel(id).await.unwrap());
    assert!(!mover.cancel(id).await.unwrap(), "cancelled once only");
    let recorded = notices(&env, id).await;
    assert_eq!(recorded.len(), 2);
    for notice in &recorded {
        assert_eq!(notice.event.as_str(), "cancelled");
        assert_eq!(
            jobs::deliver(&notifier, notice.id).await.unwrap(),
            Delivery::Sent
        );
        assert_eq!(
            jobs::deliver(&notifier, notice.id).await.unwrap(),
            Delivery::Skipped
        );
    }

    let received = smtp.received();
    assert_eq!(received.len(), 2);
    let mail = parse(&received[0]);
    assert_eq!(
        mail.subject,
        "[shardmover] website 7 move to shard_2 — cancelled"
    );
    assert!(mail.text.contains("was cancelled"), "{}", mail.text);
    assert!(
        mail.text.contains("Started:      (never started)"),
        "{}",
        mail.text
    );
    assert!(mail.text.contains("shard_1 is unchanged"), "{}", mail.text);
}

#[tokio::test]
async fn with_smtp_down_the_move_completes_and_its_notice_goes_out_once_smtp_is_back() {
    let env = TestEnv::new().await;
    let port = SmtpServer::dark_port();
    // Only the requester, to keep the count simple.
    let (mover, notifier) = mailing_with(&env, port, |s| s.mail.notify.clear());
    let notifier = Arc::new(notifier);
    env.seed(7, "shard_1", 500).await;
    let id = env.request(&mover, 7, "shard_2", 100).await;
    let outcome = mover.run(id, &Silent).await.unwrap();
    assert_eq!(outcome.record.status.as_str(), "completed");

    assert_eq!(env.drain_notices(&notifier).await, 1);
    let waiting = &notices(&env, id).await[0];
    assert_eq!((waiting.status.as_str(), waiting.attempts), ("pending", 1));
    let error = waiting.last_error.as_deref().unwrap();
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(waiting.next_attempt_at.unwrap() > chrono::Utc::now());
    let queued: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM apalis.jobs WHERE job_type = $1 AND status = 'Pending' AND run_at > now()",
    )
    .bind(<shardmover::jobs::NotifyJob as shardmover::jobs::Job>::QUEUE)
    .fetch_one(&env.control)
    .await
    .unwrap();
    assert_eq!(queued, 1, "the retry waits in the queue with its backoff");
    let (ok, stdout, stderr) =
        shardmover_cli(&env, &["status", "--migration", &id.get().to_string()]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("notice (completed) to test@example.com: not sent yet (1 attempts; next"),
        "{stdout}"
    );

    let smtp = SmtpServer::start_on_port(port);
    assert_eq!(env.drain_notices(&notifier).await, 1);
    assert_eq!(env.drain_notices(&notifier).await, 0);
    assert_eq!(smtp.received().len(), 1);
    let sent = &notices(&env, id).await[0];
    assert_eq!((sent.status.as_str(), sent.attempts), ("sent", 2));
    assert_eq!(
        sent.last_error.as_deref(),
        Some(error),
        "the last error stays for the record"
    );
}

#[tokio::test]
async fn a_notice_smtp_keeps_refusing_is_given_up_when_its_window_closes() {
    let env = TestEnv::new().await;
    let port = SmtpServer::dark_port();
    let (mover, notifier) = mailing_with(&env, port, |s| {
        s.mail.give_up_after_secs = 0;
        s.mail.notify.clear();
    });
    env.seed(7, "shard_1", 100).await;
    let id = env.request(&mover, 7, "shard_2", 100).await;
    mover.run(id, &Silent).await.unwrap();
    let notice = &notices(&env, id).await[0];
    let Delivery::GaveUp { error } = jobs::deliver(&notifier, notice.id).await.unwrap() else {
        panic!("expected the notice to be given up");
    };
    assert!(error.starts_with("gave up after 1 attempts"), "{error}");
    let recorded = &notices(&env, id).await[0];
    assert_eq!(recorded.status.as_str(), "failed");
    assert_eq!(recorded.last_error.as_deref(), Some(error.as_str()));
}

#[tokio::test]
async fn a_notice_whose_job_was_lost_is_queued_again_once_and_old_finished_jobs_are_purged() {
    let env = TestEnv::new().await;
    let smtp = SmtpServer::start();
    let (mover, notifier) = mailing_with(&env, smtp.port, |s| s.mail.notify.clear());
    let notifier = Arc::new(notifier);
    env.seed(7, "shard_1", 100).await;
    let id = env.request(&mover, 7, "shard_2", 100).await;
    mover.run(id, &Silent).await.unwrap();
    // The notice's job is gone (apalis gave up on it while the control DB was away).
    sqlx::query("DELETE FROM apalis.jobs WHERE job_type = $1")
        .bind(<shardmover::jobs::NotifyJob as shardmover::jobs::Job>::QUEUE)
        .execute(&env.control)
        .await
        .unwrap();
    let sweep = || jobs::sweeper::sweep_notices(&env.control, 0.0);
    assert_eq!(sweep().await.unwrap(), 1);
    assert_eq!(sweep().await.unwrap(), 0, "its new job is live");
    assert_eq!(env.drain_notices(&notifier).await, 1);
    assert_eq!(sweep().await.unwrap(), 0, "a sent notice needs nothing");
    assert_eq!(smtp.received().len(), 1);

    let done = "SELECT count(*) FROM apalis.jobs WHERE status = 'Done'";
    let before: i64 = sqlx::query_scalar(done)
        .fetch_one(&env.control)
        .await
        .unwrap();
    assert!(before >= 1);
    sqlx::query("UPDATE apalis.jobs SET done_at = now() - interval '8 days' WHERE status = 'Done'")
        .execute(&env.control)
        .await
        .unwrap();
    let purged = jobs::sweeper::purge_done_jobs(&env.control, 7)
        .await
        .unwrap();
    assert_eq!(purged, before as u64);
    let after: i64 = sqlx::query_scalar(done)
        .fetch_one(&env.control)
        .await
        .unwrap();
    assert_eq!(after, 0);
}

#[tokio::test]
async fn an_address_smtp_refuses_for_good_is_given_up_without_holding_up_the_others() {
    let env = TestEnv::new().await;
    let smtp = SmtpServer::start();
    let (mover, notifier) = mailing(&env, smtp.port);
    env.seed(7, "shard_1", 100).await;
    let request = shardmover::domain::MoveRequest {
        website: crate::helpers::website(7),
        target: crate::helpers::shard("shard_2"),
        keep_source: false,
        batch_rows: None,
        requested_by: shardmover::ids::EmailAddress::parse("typo@bounce.example.com").ok(),
        notes: None,
        mode: Default::default(),
    };
    let id = mover.request(&request).await.unwrap().id;
    mover.run(id, &Silent).await.unwrap();
    for notice in notices(&env, id).await {
        let delivery = jobs::deliver(&notifier, notice.id).await.unwrap();
        match notice.recipient.as_str() {
            "ops@example.com" => assert_eq!(delivery, Delivery::Sent),
            _ => assert!(
                matches!(&delivery, Delivery::GaveUp { error } if error.contains("550")),
                "{delivery:?}"
            ),
        }
    }
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, ["ops@example.com"]);
    let statuses: Vec<(String, String)> = notices(&env, id)
        .await
        .into_iter()
        .map(|n| (n.recipient.to_string(), n.status.to_string()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("typo@bounce.example.com".to_owned(), "failed".to_owned()),
            ("ops@example.com".to_owned(), "sent".to_owned())
        ]
    );
}

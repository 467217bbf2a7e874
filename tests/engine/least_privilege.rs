//! A deployment shaped like production: the application writes as its own role
//! (owner of its tables, no grant on anything of shardmover's) and shardmover
//! runs as a role with only the documented grants. The fence must refuse the
//! moving website's writes and nobody else's, during the move and after it,
//! and a transaction that began before the fence must never lose a write.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use shardmover::mover::{FENCE_SQLSTATE, MoveError, Silent};
use sqlx::{Connection, PgConnection};

use crate::helpers::{Interlude, MOVER_ROLE, TestEnv, block_on, dump, fences, website};

/// One application session on its own thread and runtime, so a test can keep
/// a transaction open across a move (even while an `Interlude` holds the move).
pub(crate) struct AppSession {
    sql: mpsc::Sender<String>,
    outcome: mpsc::Receiver<Result<u64, String>>,
}

impl AppSession {
    pub(crate) fn open(url: &SecretString) -> Self {
        let url = url.expose_secret().to_owned();
        let (sql, statements) = mpsc::channel::<String>();
        let (report, outcome) = mpsc::channel();
        std::thread::spawn(move || {
            block_on(async move {
                let mut conn = PgConnection::connect(&url).await.unwrap();
                while let Ok(text) = statements.recv() {
                    let result = sqlx::raw_sql(sqlx::AssertSqlSafe(text))
                        .execute(&mut conn)
                        .await
                        .map(|done| done.rows_affected())
                        .map_err(|e| match e.as_database_error() {
                            Some(db) => {
                                format!("{}: {}", db.code().unwrap_or_default(), db.message())
                            }
                            None => e.to_string(),
                        });
                    if report.send(result).is_err() {
                        break;
                    }
                }
            })
        });
        Self { sql, outcome }
    }

    /// Runs `sql` and waits for it: two minutes at most, so a statement
    /// stuck behind a lock fails the test rather than hang the suite.
    pub(crate) fn run(&self, sql: &str) -> Result<u64, String> {
        self.start(sql);
        self.outcome_within(Duration::from_secs(120))
            .unwrap_or_else(|| panic!("still waiting after two minutes: {sql}"))
    }

    /// Sends `sql` without waiting for it (`outcome_within` reads how it ended).
    pub(crate) fn start(&self, sql: &str) {
        self.sql.send(sql.to_owned()).unwrap();
    }

    /// How the statement `start` sent ended, if it has within `wait`.
    pub(crate) fn outcome_within(&self, wait: Duration) -> Option<Result<u64, String>> {
        self.outcome.recv_timeout(wait).ok()
    }
}

fn refused_by_fence(result: Result<u64, String>, website: i64) {
    let message = result.expect_err("the fence should refuse this write");
    assert!(
        message.starts_with(FENCE_SQLSTATE)
            && message.contains(&format!("website {website} is moving or has moved off")),
        "{message}"
    );
}

#[tokio::test]
async fn after_a_move_the_old_shard_takes_every_other_websites_writes_and_refuses_the_moved_one() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 600).await;
    env.seed(8, "shard_1", 300).await;
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 200).await;
    mover.run(id, &Silent).await.unwrap();

    let app = AppSession::open(&env.app_urls[0]);
    assert_eq!(
        app.run("INSERT INTO website_settings (website_id, key) VALUES (8, 'after-move')"),
        Ok(1),
        "a website that never moved writes as before, with no grant on shardmover's schema"
    );
    assert!(
        app.run("UPDATE pages SET title = 'edited' WHERE website_id = 8")
            .unwrap()
            > 0
    );
    assert!(app.run("DELETE FROM orders WHERE website_id = 8").unwrap() > 0);
    refused_by_fence(
        app.run("INSERT INTO website_settings (website_id, key) VALUES (7, 'stale cache')"),
        7,
    );
    refused_by_fence(
        app.run("UPDATE website_settings SET website_id = 7 WHERE website_id = 8"),
        7,
    );
    // shardmover's own bypass flag means nothing in the application's session.
    assert_eq!(app.run("SET shardmover.bypass_fence = 'on'"), Ok(0));
    refused_by_fence(
        app.run("INSERT INTO website_settings (website_id, key) VALUES (7, 'bypass tried')"),
        7,
    );
    // Nor in a superuser's (a member of every role).
    let admin = AppSession::open(&env.superuser_url("shard_1"));
    assert_eq!(admin.run("SET shardmover.bypass_fence = 'on'"), Ok(0));
    refused_by_fence(
        admin.run("INSERT INTO website_settings (website_id, key) VALUES (7, 'superuser tried')"),
        7,
    );
    // The target's copy is the application's to write.
    let target = AppSession::open(&env.app_urls[1]);
    assert_eq!(
        target.run("INSERT INTO website_settings (website_id, key) VALUES (7, 'new home')"),
        Ok(1)
    );
}

#[tokio::test]
async fn a_repeatable_read_transaction_that_read_before_the_fence_cannot_write_after_it() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 3_000).await;
    let app = AppSession::open(&env.app_urls[0]);
    app.run("BEGIN ISOLATION LEVEL REPEATABLE READ").unwrap();
    // Its snapshot predates the fence: a fence read from a table would be invisible to it.
    app.run("SELECT count(*) FROM pages WHERE website_id = 7")
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let interlude = Interlude::after(400, move || {
        let result = app.run("UPDATE pages SET title = 'lost?' WHERE website_id = 7");
        app.run("ROLLBACK").unwrap();
        tx.send(result).unwrap();
    });
    let mover = env.mover();
    let id = env.request_offline(&mover, 7, "shard_2", 200).await;
    mover.run(id, &interlude).await.unwrap();

    refused_by_fence(rx.recv_timeout(Duration::from_secs(60)).unwrap(), 7);
    let lost: i64 = sqlx::query_scalar("SELECT count(*) FROM pages WHERE title = 'lost?'")
        .fetch_one(&env.shard_2)
        .await
        .unwrap();
    assert_eq!(lost, 0);
}

#[tokio::test]
async fn a_transaction_that_wrote_before_the_fence_holds_the_move_until_it_commits() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 600).await;
    let app = AppSession::open(&env.app_urls[0]);
    app.run("BEGIN ISOLATION LEVEL REPEATABLE READ").unwrap();
    app.run("UPDATE pages SET title = 'written before the fence' WHERE website_id = 7")
        .unwrap();
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 200).await;
    let moving = tokio::spawn(async move { mover.run(id, &Silent).await.map(|_| ()) });

    // Capture waits for the open transaction to end — queueing one short try
    // behind it at most (a request queued for long would stall every other
    // writer of `pages`).
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut looks, mut queued) = (0, 0);
    while looks < 20 {
        let phase: Option<String> =
            sqlx::query_scalar("SELECT phase FROM shardmover.migrations WHERE id = $1")
                .bind(id.get())
                .fetch_one(&env.control)
                .await
                .unwrap();
        let queued_now: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'pages'::regclass",
        )
        .fetch_one(env.as_mover("shard_1"))
        .await
        .unwrap();
        queued += queued_now;
        if phase.as_deref() == Some("capturing") {
            looks += 1;
        }
        assert!(
            Instant::now() < deadline,
            "the move never reached capturing"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        queued <= 4,
        "a lock request kept queueing behind the open transaction ({queued} looks)"
    );
    assert!(!moving.is_finished());
    assert!(dump(&env.shard_2, 7).await.is_empty(), "nothing copied yet");
    app.run("COMMIT").unwrap();
    moving.await.unwrap().unwrap();

    let moved: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pages WHERE website_id = 7 AND title = 'written before the fence'",
    )
    .fetch_one(&env.shard_2)
    .await
    .unwrap();
    assert!(moved > 0, "the committed write moved with the website");
    assert_eq!(fences(&env, "shard_1").await, vec![7]);
}

#[tokio::test]
async fn truncating_a_tenant_table_is_refused_while_a_website_is_fenced() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 600).await;
    let (tx, rx) = mpsc::channel();
    let url = env.app_urls[0].clone();
    let interlude = Interlude::after(200, move || {
        tx.send(AppSession::open(&url).run("TRUNCATE orders"))
            .unwrap();
    });
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 200).await;
    mover.run(id, &interlude).await.unwrap();
    let message = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap()
        .expect_err("TRUNCATE must be refused");
    assert!(
        message.starts_with(FENCE_SQLSTATE) && message.contains("TRUNCATE"),
        "{message}"
    );
}

#[tokio::test]
async fn preflight_names_every_missing_privilege_and_touches_nothing() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 300).await;
    // The application (owner of its tables and registry) takes back some grants.
    for (pool, sql) in [
        (
            &env.shard_1,
            format!("REVOKE TRIGGER ON orders FROM {MOVER_ROLE}"),
        ),
        (
            &env.shard_2,
            format!("REVOKE INSERT ON pages FROM {MOVER_ROLE}"),
        ),
        (
            &env.shard_2,
            format!("REVOKE UPDATE ON SEQUENCE products_id_seq FROM {MOVER_ROLE}"),
        ),
        (
            &env.app_control,
            format!("REVOKE UPDATE ON pwb_websites FROM {MOVER_ROLE}"),
        ),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(pool)
            .await
            .unwrap();
    }
    let error = env
        .mover()
        .preflight(website(7), &crate::helpers::shard("shard_2"))
        .await
        .unwrap_err();
    let MoveError::MissingPrivileges(list) = &error else {
        panic!("expected missing privileges, got {error}");
    };
    for expected in [
        "TRIGGER on table orders (shard_1)",
        "INSERT on table pages (shard_2)",
        "UPDATE on sequence products_id_seq (shard_2)",
        "UPDATE on table pwb_websites (control database)",
    ] {
        assert!(list.contains(expected), "{expected:?} missing from: {list}");
    }
    assert_eq!(error.code(), "missing_privileges");
    assert!(!error.is_transient());
    let schema: Option<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname = 'shardmover'")
            .fetch_optional(&env.shard_1)
            .await
            .unwrap();
    assert_eq!(schema, None, "preflight created nothing on the source");
}

#[tokio::test]
async fn an_operator_lists_fences_and_lifts_one_only_where_the_website_lives() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 300).await;
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 200).await;
    mover.run(id, &Silent).await.unwrap();

    let (ok, out, _) = crate::helpers::shardmover_cli(&env, &["fences"]);
    assert!(
        ok && out.contains("shard_1") && out.contains("website 7"),
        "{out}"
    );
    assert!(!out.contains("FENCED WHERE IT LIVES"), "{out}");
    let (ok, _, err) = crate::helpers::shardmover_cli(
        &env,
        &["fences", "lift", "--website", "7", "--shard", "shard_1"],
    );
    assert!(
        !ok && err.contains("lives on shard_2") && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(fences(&env, "shard_1").await, vec![7]);

    // The broken state the runbook covers: the registry names the fenced shard.
    sqlx::query("UPDATE pwb_websites SET shard_name = 'shard_1' WHERE id = 7")
        .execute(&env.app_control)
        .await
        .unwrap();
    let (ok, out, _) = crate::helpers::shardmover_cli(&env, &["fences", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(ok && listed[0]["fenced_where_it_lives"] == true, "{out}");
    let (ok, out, err) = crate::helpers::shardmover_cli(
        &env,
        &["fences", "lift", "--website", "7", "--shard", "shard_1"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("no longer fenced"), "{out}");
    assert!(fences(&env, "shard_1").await.is_empty());
    let app = AppSession::open(&env.app_urls[0]);
    assert_eq!(
        app.run("INSERT INTO website_settings (website_id, key) VALUES (7, 'writable again')"),
        Ok(1)
    );
}

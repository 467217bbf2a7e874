//! A long-held lock on a tenant table (what autovacuum, a manual `VACUUM` or
//! `CREATE INDEX` take) would make the freeze's fence queue behind it while the
//! website's writes are refused. Catch-up sees it in `pg_locks`, says so on the
//! move (API, CLI, dashboard) and keeps the website writable until it is gone,
//! or stops transiently naming the sessions.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use shardmover::domain::Phase;
use shardmover::mover::Silent;

use crate::app::spawn_app;
use crate::helpers::{Interlude, TestEnv, block_on, dump, pool, shardmover_cli};
use crate::operator::Operator;

/// A session holding `SHARE UPDATE EXCLUSIVE` on `orders` (autovacuum's lock).
struct Locker {
    release: mpsc::Sender<()>,
    released_at: mpsc::Receiver<DateTime<Utc>>,
}

impl Locker {
    /// Returns once the lock is held.
    fn hold(url: SecretString) -> Self {
        let (locked, is_locked) = mpsc::channel();
        let (release, let_go) = mpsc::channel::<()>();
        let (at, released_at) = mpsc::channel();
        std::thread::spawn(move || {
            block_on(async move {
                let pool = pool(&url).await;
                let mut tx = pool.begin().await.unwrap();
                sqlx::query("LOCK TABLE orders IN SHARE UPDATE EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                locked.send(()).unwrap();
                let _ = let_go.recv();
                // Still held here: a freeze that waited for it starts after this.
                let now: DateTime<Utc> = sqlx::query_scalar("SELECT clock_timestamp()")
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                at.send(now).unwrap();
            })
        });
        is_locked.recv().unwrap();
        Self {
            release,
            released_at,
        }
    }

    /// Lets go; returns when, by the database's clock, the lock was last held.
    fn let_go(self) -> DateTime<Utc> {
        self.release.send(()).unwrap();
        self.released_at.recv().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_freeze_waits_for_a_lock_the_fence_would_queue_behind_says_so_and_the_website_stays_writable()
 {
    let app = spawn_app().await;
    let env = &app.env;
    env.seed(7, "shard_1", 3_000).await;
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 1_000).await;
    let url = env.app_urls[0].clone();
    let (held, locker) = mpsc::channel();
    // From the start of catch-up, another session holds autovacuum's lock on orders.
    let vacuum = Interlude::on_entering(Phase::CatchingUp, move || {
        held.send(Locker::hold(url)).unwrap();
    });
    let moving = tokio::spawn(async move {
        let outcome = mover.run(id, &vacuum).await;
        (outcome, vacuum.ran())
    });
    let locker = tokio::task::spawn_blocking(move || locker.recv().unwrap())
        .await
        .unwrap();

    // Catch-up gets ready to freeze and says what it waits for, everywhere.
    let deadline = Instant::now() + Duration::from_secs(30);
    let waits_for = loop {
        let recorded: Option<String> =
            sqlx::query_scalar("SELECT freeze_waits_for FROM shardmover.migrations WHERE id = $1")
                .bind(id.get())
                .fetch_one(&env.control)
                .await
                .unwrap();
        if let Some(sessions) = recorded {
            break sessions;
        }
        assert!(
            Instant::now() < deadline,
            "catch-up never said it waits for the lock"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        waits_for.contains("ShareUpdateExclusiveLock on orders"),
        "{waits_for}"
    );
    let (_, view) = app.get(&format!("/api/v1/migrations/{}", id.get())).await;
    assert_eq!(
        view["progress"]["freeze_waits_for"],
        waits_for.as_str(),
        "{view}"
    );
    let (ok, text, stderr) = shardmover_cli(env, &["status", "--migration", &id.get().to_string()]);
    assert!(ok, "{stderr}");
    assert!(
        text.contains(&format!(
            "freeze: ready, waiting for locks the fence would queue behind: {waits_for}"
        )),
        "{text}"
    );
    let (ok, json, _) = shardmover_cli(
        env,
        &["status", "--migration", &id.get().to_string(), "--json"],
    );
    assert!(ok);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["freeze_waits_for"], waits_for.as_str(), "{json}");
    let page = Operator::sign_in(&app)
        .await
        .get(&format!("/ui/moves/{}/live", id.get()))
        .await;
    assert!(
        page.body
            .contains("Ready to freeze, but the fence would queue behind locks"),
        "{}",
        page.body
    );
    // The website keeps taking writes meanwhile.
    let writer = pool(&env.app_urls[0]).await;
    for i in 0..3 {
        sqlx::query("UPDATE orders SET note = $1 WHERE id = (SELECT min(id) FROM orders WHERE website_id = 7)")
            .bind(format!("while locked {i}"))
            .execute(&writer)
            .await
            .expect("the website is writable until the freeze");
    }
    let released_at = tokio::task::spawn_blocking(move || locker.let_go())
        .await
        .unwrap();

    let (outcome, ran) = moving.await.unwrap();
    let outcome = outcome.unwrap();
    assert!(ran);
    assert_eq!(outcome.record.status.as_str(), "completed");
    let record = env.mover().run_report(id).await.unwrap().record;
    let frozen_at = record.freeze_started_at.expect("an online move freezes");
    assert!(
        frozen_at > released_at,
        "the freeze began at {frozen_at} while the lock was held until {released_at}"
    );
    assert_eq!(
        record.freeze_waits_for, None,
        "cleared once the freeze began"
    );
    let note: String = sqlx::query_scalar(
        "SELECT note FROM orders WHERE id = (SELECT min(id) FROM orders WHERE website_id = 7)",
    )
    .fetch_one(&env.shard_2)
    .await
    .unwrap();
    assert_eq!(note, "while locked 2");
}

#[tokio::test]
async fn a_lock_held_past_the_catch_up_timeout_stops_the_move_transiently_naming_the_session() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 3_000).await;
    let impatient = env.mover_with(|s| s.engine.catch_up_timeout_secs = 1);
    let id = env.request(&impatient, 7, "shard_2", 1_000).await;
    let url = env.app_urls[0].clone();
    let (held, locker) = mpsc::channel();
    let vacuum = Interlude::on_entering(Phase::CatchingUp, move || {
        held.send(Locker::hold(url)).unwrap();
    });

    let error = impatient.run(id, &vacuum).await.unwrap_err();

    // The interlude holds the only sender: once it is dropped, a move that
    // failed before catch-up ends the wait with its error instead of a hang.
    drop(vacuum);
    let locker = locker
        .recv()
        .unwrap_or_else(|_| panic!("the move never reached catch-up: {error}"));
    assert_eq!(error.code(), "fence_blocked", "{error}");
    assert!(error.is_transient());
    assert!(error.to_string().contains("shard_1"), "{error}");
    assert!(
        error
            .to_string()
            .contains("ShareUpdateExclusiveLock on orders"),
        "{error}"
    );
    let record = env.mover().run_report(id).await.unwrap().record;
    assert_eq!(record.status.as_str(), "in_progress");
    assert_eq!(record.phase, Phase::CatchingUp);
    assert!(record.freeze_started_at.is_none(), "never froze");
    sqlx::query("UPDATE orders SET note = 'still writable' WHERE id = (SELECT min(id) FROM orders WHERE website_id = 7)")
        .execute(&env.shard_1)
        .await
        .unwrap();

    locker.let_go();
    let expected = dump(&env.shard_1, 7).await;
    let outcome = env.mover().run(id, &Silent).await.unwrap();

    assert_eq!(outcome.record.status.as_str(), "completed");
    assert_eq!(dump(&env.shard_2, 7).await, expected);
}

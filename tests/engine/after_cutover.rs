//! Past cutover a move only goes forward. Its cleanup — lifting a fence an
//! earlier move left on the target, then deleting the source's rows — is a
//! recorded step that a resumed attempt completes; a cleanup that cannot go on
//! leaves the move `cleanup_pending`, told plainly, until `finalize` resumes it.
//! And a rollback the registry no longer allows ends the move `failed`.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use shardmover::control::migrations;
use shardmover::domain::{MoveRecord, Phase, Status};
use shardmover::ids::MoveId;
use shardmover::jobs;
use shardmover::jobs::MoveJob;
use shardmover::mover::{FENCE_SQLSTATE, Silent};
use sqlx::PgPool;

use crate::app::{error_code, request_move, spawn_app_with};
use crate::helpers::{Interlude, TestEnv, block_on, dump, fences, pool, shardmover_cli, website};

async fn record(control: &PgPool, id: MoveId) -> MoveRecord {
    let mut conn = control.acquire().await.unwrap();
    migrations::find(&mut conn, id).await.unwrap().unwrap()
}

/// Makes every delete from `schema.table` fail with `sqlstate`, as a real
/// trigger on the shard would (a legal hold, a lock that times out). `pool`
/// must own the table: the application for tenant tables, shardmover for its own.
pub(crate) async fn refuse_deletes(pool: &PgPool, schema: &str, table: &str, sqlstate: &str) {
    let refuse = format!(
        "RAISE EXCEPTION 'deletes from % are refused by the test', TG_TABLE_NAME
               USING ERRCODE = '{sqlstate}';"
    );
    before_each(pool, schema, table, "DELETE", &refuse).await;
}

/// Runs `body` (PL/pgSQL) before each `event` on a row of `schema.table`, in
/// shardmover's sessions too; `allow_deletes` removes it (and any such hook).
pub(crate) async fn before_each(pool: &PgPool, schema: &str, table: &str, event: &str, body: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE FUNCTION {schema}.sm_test_hook() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN {body}
         IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$;
         CREATE TRIGGER sm_test_hook BEFORE {event} ON {schema}.{table}
             FOR EACH ROW EXECUTE FUNCTION {schema}.sm_test_hook();
         -- shardmover's sessions run as replicas; this one fires for them too.
         ALTER TABLE {schema}.{table} ENABLE ALWAYS TRIGGER sm_test_hook;"
    )))
    .execute(pool)
    .await
    .unwrap();
}

pub(crate) async fn allow_deletes(pool: &PgPool, schema: &str, table: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP TRIGGER sm_test_hook ON {schema}.{table}; DROP FUNCTION {schema}.sm_test_hook();"
    )))
    .execute(pool)
    .await
    .unwrap();
}

/// The SQLSTATE a write of website 7 gets on `pool`, or "ok".
async fn write_of_website_7(pool: &PgPool) -> String {
    let result = sqlx::query("INSERT INTO website_settings (website_id, key) VALUES (7, $1)")
        .bind(format!("k{}", rand::random::<u32>()))
        .execute(pool)
        .await;
    match result {
        Ok(_) => "ok".into(),
        Err(e) => e.as_database_error().unwrap().code().unwrap().into_owned(),
    }
}

/// Moves website 7 shard_1 → shard_2 (leaving its fence on shard_1), then
/// requests the move back; returns the move back's id.
async fn there_and_request_back(env: &TestEnv) -> MoveId {
    env.seed(7, "shard_1", 900).await;
    let mover = env.mover();
    let there = env.request(&mover, 7, "shard_2", 300).await;
    mover.run(there, &Silent).await.unwrap();
    assert_eq!(fences(env, "shard_1").await, vec![7]);
    env.request(&mover, 7, "shard_1", 300).await
}

#[tokio::test]
async fn a_move_back_whose_fence_lift_fails_is_left_cleanup_pending_and_a_resume_lifts_it() {
    let env = TestEnv::new().await;
    let back = there_and_request_back(&env).await;
    let on_shard_2 = dump(&env.shard_2, 7).await;
    refuse_deletes(
        env.as_mover("shard_1"),
        "shardmover",
        "fenced_websites",
        "P0001",
    )
    .await;

    let error = env.mover().run(back, &Silent).await.unwrap_err();

    assert!(error.to_string().contains("refused by the test"), "{error}");
    let r = record(&env.control, back).await;
    assert_eq!(
        (r.status, r.phase, r.target_unfenced_at, r.source_cleaned_at),
        (Status::CleanupPending, Phase::Cleanup, None, None)
    );
    let message = r.error_message.unwrap();
    assert!(
        message.contains("the website lives on shard_1"),
        "{message}"
    );
    assert!(
        message.contains("its writes there stay refused"),
        "{message}"
    );
    assert!(
        message.contains(&format!("/api/v1/migrations/{back}/finalize")),
        "{message}"
    );
    assert_eq!(
        env.registry(7).await.as_deref(),
        Some("shard_1"),
        "it moved"
    );
    assert_eq!(
        write_of_website_7(&env.shard_1).await,
        FENCE_SQLSTATE,
        "still fenced"
    );
    assert_eq!(
        dump(&env.shard_2, 7).await,
        on_shard_2,
        "the old rows wait, fenced"
    );
    assert_eq!(
        jobs::sweeper::sweep(&env.control, 0.0).await.unwrap(),
        0,
        "a pending cleanup waits for finalize, it is not re-queued for ever"
    );
    let (ok, status, _) = shardmover_cli(&env, &["status", "--migration", &back.to_string()]);
    assert!(ok);
    assert!(
        status.contains("cleanup_pending (phase cleanup"),
        "{status}"
    );
    assert!(
        status.contains("the website lives on shard_1 and may have its writes refused there"),
        "{status}"
    );
    assert!(
        status.contains("resume it with `shardmover finalize --website 7`"),
        "{status}"
    );

    allow_deletes(env.as_mover("shard_1"), "shardmover", "fenced_websites").await;
    let outcome = env.mover().run(back, &Silent).await.unwrap();

    assert_eq!(outcome.record.status, Status::Completed);
    assert!(outcome.record.target_unfenced_at.is_some());
    assert!(
        fences(&env, "shard_1").await.is_empty(),
        "the fence is gone"
    );
    assert_eq!(write_of_website_7(&env.shard_1).await, "ok", "writes work");
    assert!(
        dump(&env.shard_2, 7).await.is_empty(),
        "then the source was cleaned"
    );
    assert_eq!(fences(&env, "shard_2").await, vec![7]);
}

#[tokio::test]
async fn a_fence_lift_timing_out_on_a_held_lock_keeps_the_cleanup_running_and_a_resume_completes_it()
 {
    let env = TestEnv::new().await;
    let back = there_and_request_back(&env).await;
    // The application holds a write lock on a tenant table of shard_1: lifting
    // the fence (DDL under SHARE ROW EXCLUSIVE) times out behind it, while the
    // copy (ROW EXCLUSIVE) does not.
    let mut holder = env.shard_1.begin().await.unwrap();
    sqlx::query("LOCK TABLE pages IN ROW EXCLUSIVE MODE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let mover = env.mover_with(|s| s.engine.fence_drain_timeout_secs = 1);

    let error = mover.run(back, &Silent).await.unwrap_err();

    assert!(error.is_transient(), "{error}");
    let r = record(&env.control, back).await;
    assert_eq!(
        (
            r.status,
            r.phase,
            r.error_code.as_deref(),
            r.target_unfenced_at
        ),
        (
            Status::InProgress,
            Phase::Cleanup,
            Some("fence_drain_timeout"),
            None
        )
    );
    assert_eq!(env.registry(7).await.as_deref(), Some("shard_1"));
    assert_eq!(
        jobs::sweeper::sweep(&env.control, 0.0).await.unwrap(),
        1,
        "a running cleanup without a job is queued again"
    );
    holder.rollback().await.unwrap();
    assert_eq!(write_of_website_7(&env.shard_1).await, FENCE_SQLSTATE);

    let outcome = env.mover().run(back, &Silent).await.unwrap();

    assert_eq!(outcome.record.status, Status::Completed);
    assert!(fences(&env, "shard_1").await.is_empty());
    assert_eq!(write_of_website_7(&env.shard_1).await, "ok");
    assert!(dump(&env.shard_2, 7).await.is_empty());
}

async fn events(control: &PgPool, id: i64) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT event || ':' || recipient FROM shardmover.notifications
          WHERE migration_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(control)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_cleanup_stopped_after_cutover_is_shown_plainly_and_finalize_over_the_api_resumes_it() {
    // Mail on (nothing listens: notices wait in the outbox, which is what is checked).
    let app = spawn_app_with(|s| s.mail.smtp_host = "127.0.0.1".into()).await;
    app.env.seed(7, "shard_1", 600).await;
    let original = dump(&app.env.shard_1, 7).await;
    let id = request_move(&app.mover, 7, "shard_2").await.unwrap().id;
    refuse_deletes(&app.env.shard_1, "public", "pages", "P0001").await;

    app.mover.run(id, &Silent).await.unwrap_err();

    let path = format!("/api/v1/migrations/{id}");
    let (_, view) = app.get(&path).await;
    assert_eq!(view["status"], "cleanup_pending");
    assert_eq!(view["phase"], "cleanup");
    let after: &Value = &view["after_cutover"];
    assert_eq!(after["lives_on"], "shard_2");
    assert_eq!(after["target_writable"], true);
    assert_eq!(after["source_rows_deleted"], false);
    assert_eq!(after["cleanup_pending"], true);
    let message = view["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("the website lives on shard_2"),
        "{message}"
    );
    assert!(
        message.contains("its old rows on shard_1 are still there"),
        "{message}"
    );
    assert_eq!(
        events(&app.env.control, id.get()).await,
        vec!["cleanup_pending:test@example.com"]
    );
    let (status, body) = app.post(&format!("{path}/cancel"), Value::Null).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "cannot_cancel")
    );
    assert!(
        request_move(&app.mover, 7, "shard_1").await.is_err(),
        "one unfinished move per website: the cleanup comes first"
    );

    allow_deletes(&app.env.shard_1, "public", "pages").await;
    let (status, body) = app.post(&format!("{path}/finalize"), Value::Null).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(app.drain_queue().await, 1);

    let (_, done) = app.get(&path).await;
    assert_eq!(
        (done["status"].as_str(), done["phase"].as_str()),
        (Some("completed"), Some("done"))
    );
    assert_eq!(done["after_cutover"]["cleanup_pending"], false);
    assert_eq!(done["after_cutover"]["source_rows_deleted"], true);
    assert!(dump(&app.env.shard_1, 7).await.is_empty());
    assert_eq!(dump(&app.env.shard_2, 7).await, original);
    assert_eq!(
        events(&app.env.control, id.get()).await,
        vec![
            "cleanup_pending:test@example.com",
            "completed:test@example.com"
        ]
    );
    let (status, body) = app.post(&format!("{path}/finalize"), Value::Null).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "cannot_finalize")
    );
}

#[tokio::test]
async fn finalize_over_the_api_is_refused_before_cutover_and_for_unknown_moves() {
    let app = spawn_app_with(|_| {}).await;
    app.env.seed(8, "shard_1", 100).await;
    let pending = request_move(&app.mover, 8, "shard_2").await.unwrap().id;

    let (status, body) = app
        .post(
            &format!("/api/v1/migrations/{pending}/finalize"),
            Value::Null,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "cannot_finalize")
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not past cutover")
    );
    let (status, _) = app
        .post("/api/v1/migrations/999999/finalize", Value::Null)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM apalis.jobs")
        .fetch_one(&app.env.control)
        .await
        .unwrap();
    assert_eq!(queued, 0, "nothing was queued");
}

#[tokio::test]
async fn exhausted_retries_after_cutover_leave_the_cleanup_pending_and_the_cli_finalize_resumes_it()
{
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 600).await;
    let original = dump(&env.shard_1, 7).await;
    let mover = Arc::new(env.mover_with(|s| s.worker.max_attempts = 1));
    let id = env.request(&mover, 7, "shard_2", 200).await;
    refuse_deletes(&env.shard_1, "public", "pages", "55P03").await;

    let job = MoveJob {
        migration_id: id,
        request_id: None,
    };
    jobs::run_move(job, apalis::prelude::Data::new(mover.clone()))
        .await
        .unwrap();

    let r = record(&env.control, id).await;
    assert_eq!(
        (
            r.status,
            r.phase,
            r.error_code.as_deref(),
            r.rollback_required
        ),
        (
            Status::CleanupPending,
            Phase::Cleanup,
            Some("retries_exhausted"),
            false
        ),
        "never failed, never rolled back"
    );
    assert_eq!(env.registry(7).await.as_deref(), Some("shard_2"));
    let queued: i64 =
        sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE status = 'Pending'")
            .fetch_one(&env.control)
            .await
            .unwrap();
    assert_eq!(queued, 0, "it waits for finalize");

    allow_deletes(&env.shard_1, "public", "pages").await;
    let left = dump(&env.shard_1, 7).await.len();
    assert!(left > 0);
    let (finalized, deleted) = mover.finalize(website(7)).await.unwrap();

    assert_eq!((finalized, deleted as usize), (id, left));
    let r = record(&env.control, id).await;
    assert_eq!(
        (r.status, r.attempts, r.retry_from),
        (Status::Completed, 2, 1),
        "resumed with a fresh retry budget"
    );
    assert!(dump(&env.shard_1, 7).await.is_empty());
    assert_eq!(dump(&env.shard_2, 7).await, original);
}

#[tokio::test]
async fn a_rollback_refused_because_the_registry_changed_ends_the_move_failed_once() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 3_000).await;
    let mover = env.mover_with(|s| s.mail.smtp_host = "127.0.0.1".into());
    let id = env.request(&mover, 7, "shard_2", 100).await;
    // Mid-copy, someone else points the registry somewhere else.
    let interlude = Interlude::after(250, {
        let url = env.settings.database.url.clone();
        move || {
            block_on(async move {
                sqlx::query("UPDATE pwb_websites SET shard_name = 'shard_9' WHERE id = 7")
                    .execute(&pool(&url).await)
                    .await
                    .unwrap();
            })
        }
    });

    let error = mover.run(id, &interlude).await.unwrap_err();

    assert_eq!(error.code(), "rollback_refused");
    let r = record(&env.control, id).await;
    assert_eq!(
        (r.status, r.error_code.as_deref(), r.rollback_required),
        (Status::Failed, Some("rollback_refused"), false)
    );
    let message = r.error_message.unwrap();
    assert!(message.contains("registered on shard_9"), "{message}");
    assert!(message.contains("nothing was rolled back"), "{message}");
    assert!(
        !dump(&env.shard_2, 7).await.is_empty(),
        "left for an operator, as it says"
    );
    assert_eq!(fences(&env, "shard_1").await, vec![7], "as it says");
    assert_eq!(
        env.registry(7).await.as_deref(),
        Some("shard_9"),
        "not ours to change"
    );
    assert_eq!(
        events(&env.control, id.get()).await,
        vec!["failed:test@example.com"]
    );
    assert_eq!(
        jobs::sweeper::sweep(&env.control, 0.0).await.unwrap(),
        0,
        "an ended move is not queued again"
    );
    let again = env.mover().run(id, &Silent).await.unwrap();
    assert_eq!(again.record.status, Status::Failed, "it ended once");
    // The capture this online move left is reported by the next preflight on that shard.
    env.seed(8, "shard_1", 100).await;
    let report = env
        .mover()
        .preflight(
            crate::helpers::website(8),
            &crate::helpers::shard("shard_2"),
        )
        .await
        .unwrap();
    assert_eq!(report.leftovers.len(), 1, "{:?}", report.leftovers);
    assert!(
        report.leftovers[0].contains("still captures website 7")
            && report.leftovers[0].contains("which is failed"),
        "{:?}",
        report.leftovers
    );
}

//! Moves interfered with mid-copy: by writes, a lost connection, a cancel or a
//! tampered target. An `Interlude` holds the move still while the test acts.

use std::sync::{Arc, Mutex};

use shardmover::mover::{FENCE_SQLSTATE, Silent};

use crate::helpers::{
    Interlude, TestEnv, block_on, dump, fences, pool, rot_a_copied_row, whole_shard,
};

async fn status_of(env: &TestEnv, id: i64) -> (String, String, Option<String>) {
    sqlx::query_as("SELECT status, phase, error_code FROM shardmover.migrations WHERE id = $1")
        .bind(id)
        .fetch_one(&env.control)
        .await
        .unwrap()
}

/// Once `after_rows` are copied, terminates every shardmover session to the
/// target: the chunk in flight dies uncommitted, like a network cut.
fn cut_target_sessions(env: &TestEnv, after_rows: u64) -> Interlude {
    let url = env.shard_urls[1].clone();
    Interlude::after(after_rows, move || {
        block_on(async move {
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                  WHERE datname = current_database() AND application_name = 'shardmover'",
            )
            .execute(&pool(&url).await)
            .await
            .unwrap();
        })
    })
}

/// (SQLSTATE, message) of a failed statement, or "ok".
fn outcome(result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>) -> (String, String) {
    match result {
        Ok(done) => ("ok".into(), done.rows_affected().to_string()),
        Err(e) => {
            let db = e.as_database_error().expect("a database error");
            (
                db.code().unwrap_or_default().into_owned(),
                db.message().to_owned(),
            )
        }
    }
}

#[tokio::test]
async fn the_fence_refuses_the_moving_website_and_no_one_else() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 3_000).await;
    env.seed(8, "shard_1", 300).await;
    let mover = env.mover();
    let id = env.request_offline(&mover, 7, "shard_2", 200).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let interlude = Interlude::after(400, {
        let (url, seen) = (env.app_urls[0].clone(), seen.clone());
        move || {
            block_on(async move {
                let source = pool(&url).await;
                let writes = [
                    "UPDATE pages SET title = 'late edit' WHERE website_id = 7",
                    "INSERT INTO website_settings (website_id, key) VALUES (7, 'new')",
                    "DELETE FROM orders WHERE website_id = 7",
                    "UPDATE pages SET title = 'still writable' WHERE website_id = 8",
                ];
                for sql in writes {
                    let result = sqlx::query(sql).execute(&source).await;
                    seen.lock().unwrap().push(outcome(result));
                }
            })
        }
    });
    mover.run(id, &interlude).await.unwrap();

    let seen = seen.lock().unwrap().clone();
    for (code, message) in &seen[..3] {
        assert_eq!(code, FENCE_SQLSTATE);
        assert!(
            message.contains("website 7 is moving or has moved off this shard"),
            "{message}"
        );
    }
    assert_eq!(
        seen[3].0, "ok",
        "another website on the same shard keeps writing"
    );
    assert_ne!(seen[3].1, "0");
    let edits: i64 = sqlx::query_scalar("SELECT count(*) FROM pages WHERE title = 'late edit'")
        .fetch_one(&env.shard_2)
        .await
        .unwrap();
    assert_eq!(edits, 0, "the refused write was not smuggled across");
}

#[tokio::test]
async fn a_copy_cut_off_mid_chunk_resumes_from_its_checkpoint_with_exact_rows() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 6_000).await;
    let original = dump(&env.shard_1, 7).await;
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 150).await;
    // Two chunks committed, the third in flight: cut every shardmover session to the target.
    let interlude = cut_target_sessions(&env, 450);
    let error = mover.run(id, &interlude).await.unwrap_err();
    assert!(interlude.ran());
    assert!(
        error.is_transient(),
        "a lost connection is transient: {error}"
    );
    assert_eq!(
        status_of(&env, id.get()).await.0,
        "in_progress",
        "the move stays resumable"
    );
    let done: i64 = sqlx::query_scalar("SELECT rows_done FROM shardmover.copy_checkpoints WHERE migration_id = $1 AND table_name = 'public.pages'")
        .bind(id.get())
        .fetch_one(env.as_mover("shard_2"))
        .await
        .unwrap();
    assert_eq!(done, 300, "exactly the committed chunks are checkpointed");
    let landed: i64 = sqlx::query_scalar("SELECT count(*) FROM pages WHERE website_id = 7")
        .fetch_one(&env.shard_2)
        .await
        .unwrap();
    assert_eq!(landed, done, "rows and checkpoint commit together");

    let outcome = env.mover().run(id, &Silent).await.unwrap();

    assert_eq!(outcome.record.status.as_str(), "completed");
    assert_eq!(outcome.record.attempts, 2);
    assert_eq!(
        dump(&env.shard_2, 7).await,
        original,
        "no row repeated, none skipped"
    );
    assert!(dump(&env.shard_1, 7).await.is_empty());
}

#[tokio::test]
async fn a_cancelled_move_rolls_back_and_lifts_the_fence() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 3_000).await;
    let source_before = whole_shard(&env, "shard_1").await;
    let target_before = whole_shard(&env, "shard_2").await;
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 200).await;
    let interlude = Interlude::after(400, {
        let url = env.settings.database.url.clone();
        move || {
            block_on(async move {
                sqlx::query("UPDATE shardmover.migrations SET cancel_requested = true")
                    .execute(&pool(&url).await)
                    .await
                    .unwrap();
            })
        }
    });
    let error = mover.run(id, &interlude).await.unwrap_err();

    assert_eq!(error.code(), "cancelled");
    assert_eq!(
        status_of(&env, id.get()).await,
        (
            "cancelled".into(),
            "copying".into(),
            Some("cancelled".into())
        )
    );
    assert_eq!(
        whole_shard(&env, "shard_1").await,
        source_before,
        "source exactly as before, fence lifted"
    );
    let leftovers: i64 = sqlx::query_scalar("SELECT count(*) FROM shardmover.copy_checkpoints")
        .fetch_one(env.as_mover("shard_2"))
        .await
        .unwrap();
    assert_eq!(
        (whole_shard(&env, "shard_2").await, leftovers),
        (target_before, 0),
        "target rolled back"
    );
    assert_eq!(env.registry(7).await.as_deref(), Some("shard_1"));
    sqlx::query("UPDATE pages SET title = 'writable again' WHERE website_id = 7")
        .execute(&env.shard_1)
        .await
        .unwrap();
    // The online move's change capture went with it: that write was not logged.
    let captured: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM shardmover.captured_websites),
                (SELECT count(*) FROM shardmover.changes)",
    )
    .fetch_one(env.as_mover("shard_1"))
    .await
    .unwrap();
    assert_eq!(captured, (0, 0), "capture removed by the rollback");
}

#[tokio::test]
async fn cancel_is_refused_once_a_move_has_ended() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 300).await;
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 100).await;
    mover.run(id, &Silent).await.unwrap();
    assert!(!mover.cancel(id).await.unwrap());
}

#[tokio::test]
async fn a_row_changed_on_the_target_fails_verification_naming_the_key_range() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 3_000).await;
    let source_before = whole_shard(&env, "shard_1").await;
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 100).await;
    // Corrupt a row the copy already committed (chunk 0 of pages).
    let interlude = rot_a_copied_row(&env);
    let error = mover.run(id, &interlude).await.unwrap_err();

    assert_eq!(error.code(), "checksum_mismatch");
    let message = error.to_string();
    assert!(message.contains("public.pages"), "{message}");
    // Found at the copy's snapshot, named by catch-up's bulk check.
    assert!(
        message.contains("among rows no change touched"),
        "{message}"
    );
    assert!(
        message.contains("chunk 0 (rows 0..100), keys (700000001) to (700000100)"),
        "{message}"
    );
    assert_eq!(status_of(&env, id.get()).await.0, "failed");
    assert_eq!(whole_shard(&env, "shard_1").await, source_before);
    assert!(dump(&env.shard_2, 7).await.is_empty(), "target rolled back");
    assert!(fences(&env, "shard_1").await.is_empty());
    assert_eq!(env.registry(7).await.as_deref(), Some("shard_1"));
}

#[tokio::test]
async fn a_rollback_cut_short_by_a_crash_is_finished_by_the_next_attempt() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 3_000).await;
    let source_before = whole_shard(&env, "shard_1").await;
    let target_before = whole_shard(&env, "shard_2").await;
    let mover = env.mover();
    let id = env.request_offline(&mover, 7, "shard_2", 100).await;
    // Stop the first attempt mid-copy (rows on the target, fence on the source) ...
    let interlude = cut_target_sessions(&env, 250);
    mover.run(id, &interlude).await.unwrap_err();
    assert_eq!(fences(&env, "shard_1").await, vec![7]);
    // ... as if it had then hit a permanent error and died right after recording the rollback.
    sqlx::query("UPDATE shardmover.migrations SET rollback_required = true, error_code = 'checksum_mismatch', error_message = 'checksum mismatch in public.pages' WHERE id = $1")
        .bind(id.get())
        .execute(&env.control)
        .await
        .unwrap();

    let error = env.mover().run(id, &Silent).await.unwrap_err();

    assert_eq!(error.to_string(), "checksum mismatch in public.pages");
    assert_eq!(
        status_of(&env, id.get()).await,
        (
            "failed".into(),
            "copying".into(),
            Some("checksum_mismatch".into())
        )
    );
    assert_eq!(
        whole_shard(&env, "shard_1").await,
        source_before,
        "fence lifted, source as before"
    );
    assert_eq!(
        whole_shard(&env, "shard_2").await,
        target_before,
        "target rolled back"
    );
}

#[tokio::test]
async fn a_shutting_down_process_stops_its_move_at_a_checkpoint_and_it_resumes() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 3_000).await;
    let original = dump(&env.shard_1, 7).await;
    let mover = Arc::new(env.mover());
    let id = env.request(&mover, 7, "shard_2", 100).await;
    let interlude = Interlude::after(250, {
        let mover = mover.clone();
        move || mover.request_stop()
    });

    let error = mover.run(id, &interlude).await.unwrap_err();

    assert_eq!(error.code(), "interrupted");
    assert!(error.is_transient());
    let (status, phase, _) = status_of(&env, id.get()).await;
    assert_eq!(
        (status.as_str(), phase.as_str()),
        ("in_progress", "copying")
    );
    let done: i64 = sqlx::query_scalar("SELECT rows_done FROM shardmover.copy_checkpoints WHERE migration_id = $1 AND table_name = 'public.pages'")
        .bind(id.get())
        .fetch_one(env.as_mover("shard_2"))
        .await
        .unwrap();
    assert_eq!(
        done, 300,
        "it stopped right after committing the chunk in flight"
    );

    let outcome = env.mover().run(id, &Silent).await.unwrap();
    assert_eq!(outcome.record.status.as_str(), "completed");
    assert_eq!(dump(&env.shard_2, 7).await, original);
}

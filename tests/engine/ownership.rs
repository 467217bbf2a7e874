//! A move is owned by its newest attempt: every state change is conditional on
//! the attempt's number, so a stale attempt (its lock session died, say) can
//! neither move a phase, cut over nor roll back; and a cancel answered 202
//! always wins over the cutover.

use std::sync::Mutex;

use shardmover::control::migrations;

use shardmover::domain::{MoveRecord, Phase, Status};
use shardmover::ids::MoveId;
use shardmover::mover::{Mover, ProgressSink, Silent, Snapshot};
use sqlx::PgPool;

use crate::helpers::{TestEnv, block_on, dump, fences, pool};

async fn record(env: &TestEnv, id: MoveId) -> MoveRecord {
    let mut conn = env.control.acquire().await.unwrap();
    migrations::find(&mut conn, id).await.unwrap().unwrap()
}

/// Starts an attempt as a second worker would (it took the website's lock
/// after the first one's lock session died).
async fn newer_attempt_starts(control: &PgPool, id: MoveId) -> i32 {
    let mut conn = control.acquire().await.unwrap();
    migrations::start_attempt(&mut conn, id)
        .await
        .unwrap()
        .expect("the move is unfinished")
}

/// A sink that runs `action` (on its own thread and runtime) when the move
/// enters `phase`, before the move goes on.
struct AtPhase {
    phase: Phase,
    action: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl AtPhase {
    fn new(phase: Phase, action: impl FnOnce() + Send + 'static) -> Self {
        Self {
            phase,
            action: Mutex::new(Some(Box::new(action))),
        }
    }
}

impl ProgressSink for AtPhase {
    fn update(&self, s: &Snapshot) {
        if s.phase != self.phase {
            return;
        }
        if let Some(action) = self.action.lock().unwrap().take() {
            std::thread::spawn(action)
                .join()
                .expect("the action failed");
        }
    }
}

#[tokio::test]
async fn a_stale_attempt_can_change_nothing_once_a_newer_attempt_owns_the_move() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 300).await;
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 100).await;
    let mut conn = env.control.acquire().await.unwrap();
    let a = migrations::start_attempt(&mut conn, id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        migrations::set_phase(&mut conn, id, a, Phase::Copying)
            .await
            .unwrap()
    );
    let b = newer_attempt_starts(&env.control, id).await;
    assert_eq!(b, a + 1);
    let before = record(&env, id).await;

    assert!(
        !migrations::set_phase(&mut conn, id, a, Phase::Cleanup)
            .await
            .unwrap()
    );
    assert!(
        !migrations::record_error(&mut conn, id, a, "checksum_mismatch", "x", true)
            .await
            .unwrap()
    );
    assert!(
        migrations::finish(&mut conn, id, a, Status::Completed)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        migrations::leave_cleanup_pending(&mut conn, id, a, "x", "y")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !migrations::claim(&mut conn, id, a, false)
            .await
            .unwrap()
            .owned
    );

    let after = record(&env, id).await;
    assert_eq!(
        (
            after.status,
            after.phase,
            after.rollback_required,
            after.error_code
        ),
        (Status::InProgress, Phase::Copying, false, None),
        "nothing changed"
    );
    assert_eq!(after.updated_at, before.updated_at);
    assert!(
        migrations::claim(&mut conn, id, b, false)
            .await
            .unwrap()
            .owned
    );
    assert!(
        migrations::set_phase(&mut conn, id, b, Phase::Verifying)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_stale_attempt_mid_copy_stops_without_rolling_back_and_the_owner_finishes() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 3_000).await;
    let original = dump(&env.shard_1, 7).await;
    let mover = env.mover();
    let id = env.request_offline(&mover, 7, "shard_2", 100).await;
    let url = env.settings.database.url.clone();
    let interlude = crate::helpers::Interlude::after(250, move || {
        block_on(async move {
            newer_attempt_starts(&pool(&url).await, id).await;
        })
    });

    let error = mover.run(id, &interlude).await.unwrap_err();

    assert_eq!(error.code(), "lost_ownership");
    let r = record(&env, id).await;
    assert_eq!(
        (r.status, r.phase, r.rollback_required, r.attempts),
        (Status::InProgress, Phase::Copying, false, 2),
        "the stale attempt recorded nothing and rolled nothing back"
    );
    assert_eq!(fences(&env, "shard_1").await, vec![7], "the fence stays up");
    assert!(
        !dump(&env.shard_2, 7).await.is_empty(),
        "the copied rows stay for the owner"
    );
    assert_eq!(env.registry(7).await.as_deref(), Some("shard_1"));

    let outcome = env.mover().run(id, &Silent).await.unwrap();
    assert_eq!(outcome.record.status, Status::Completed);
    assert_eq!(dump(&env.shard_2, 7).await, original, "exactly once");
    assert!(dump(&env.shard_1, 7).await.is_empty());
}

#[tokio::test]
async fn a_stale_attempt_cannot_cut_over() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 600).await;
    let original = dump(&env.shard_1, 7).await;
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 200).await;
    let url = env.settings.database.url.clone();
    // Right before the cutover transaction, a newer attempt takes the move over.
    let sink = AtPhase::new(Phase::Cutover, move || {
        block_on(async move {
            newer_attempt_starts(&pool(&url).await, id).await;
        })
    });

    let error = mover.run(id, &sink).await.unwrap_err();

    assert_eq!(error.code(), "lost_ownership");
    assert_eq!(
        env.registry(7).await.as_deref(),
        Some("shard_1"),
        "no cutover"
    );
    let r = record(&env, id).await;
    assert_eq!(
        (r.status, r.phase, r.rollback_required),
        (Status::InProgress, Phase::Cutover, false)
    );
    assert_eq!(fences(&env, "shard_1").await, vec![7]);
    assert_eq!(dump(&env.shard_1, 7).await, original, "no cleanup either");

    let outcome = env.mover().run(id, &Silent).await.unwrap();
    assert_eq!(outcome.record.status, Status::Completed);
    assert_eq!(env.registry(7).await.as_deref(), Some("shard_2"));
    assert_eq!(dump(&env.shard_2, 7).await, original);
}

/// Cancels from another runtime, as the API would: true when answered 202.
fn cancel_from_outside(mover: &Mover, id: MoveId) -> bool {
    let settings = std::sync::Arc::new(mover.settings().clone());
    let url = mover.settings().database.url.clone();
    std::thread::spawn(move || {
        block_on(async move {
            crate::helpers::new_mover(settings, pool(&url).await)
                .cancel(id)
                .await
                .unwrap()
        })
    })
    .join()
    .unwrap()
}

#[tokio::test]
async fn a_cancel_accepted_right_before_cutover_wins_and_the_move_rolls_back() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 600).await;
    let source_before = crate::helpers::whole_shard(&env, "shard_1").await;
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 200).await;
    let accepted = std::sync::Arc::new(Mutex::new(None));
    let sink = AtPhase::new(Phase::Cutover, {
        let (other, accepted) = (env.mover(), accepted.clone());
        move || *accepted.lock().unwrap() = Some(cancel_from_outside(&other, id))
    });

    let error = mover.run(id, &sink).await.unwrap_err();

    assert_eq!(*accepted.lock().unwrap(), Some(true), "answered 202");
    assert_eq!(error.code(), "cancelled");
    assert_eq!(record(&env, id).await.status, Status::Cancelled);
    assert_eq!(env.registry(7).await.as_deref(), Some("shard_1"));
    assert_eq!(
        crate::helpers::whole_shard(&env, "shard_1").await,
        source_before
    );
    assert!(dump(&env.shard_2, 7).await.is_empty());
}

#[tokio::test]
async fn a_cancel_waiting_on_the_cutover_is_refused_once_the_cutover_commits() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 300).await;
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 100).await;
    let mut conn = env.control.acquire().await.unwrap();
    let a = migrations::start_attempt(&mut conn, id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        migrations::set_phase(&mut conn, id, a, Phase::Cutover)
            .await
            .unwrap()
    );
    // The cutover transaction holds the move's row ...
    let mut cutover = env.control.begin().await.unwrap();
    let claim = migrations::claim(&mut cutover, id, a, true).await.unwrap();
    assert!(claim.owned && !claim.cancel_requested);
    // ... while a cancel arrives: it waits for the cutover's decision.
    let cancel = tokio::spawn({
        let control = env.control.clone();
        async move {
            let mut conn = control.acquire().await.unwrap();
            migrations::request_cancel(&mut conn, id).await.unwrap()
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!cancel.is_finished(), "the cancel waits on the move's row");
    assert!(
        migrations::set_phase(&mut cutover, id, a, Phase::Cleanup)
            .await
            .unwrap()
    );
    cutover.commit().await.unwrap();

    assert!(!cancel.await.unwrap(), "answered 409: the cutover won");
    assert!(!record(&env, id).await.cancel_requested);
    assert!(!mover.cancel(id).await.unwrap());
}

#[tokio::test]
async fn a_stale_attempts_copy_commits_no_chunk_on_the_target_once_a_newer_attempt_claims_it() {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 3_000).await;
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 100).await;
    // Mid-copy a newer attempt claims the move on the target, as its first
    // write there does: the running attempt is now stale.
    // The claim waits for the chunk in flight to commit, so it runs beside the
    // move; the move goes on once the claim queues behind that chunk (a copy
    // far quicker than a thread's start could otherwise end first).
    let url = env.shard_urls[1].clone();
    let interlude = crate::helpers::Interlude::after(500, move || {
        let watch = url.clone();
        let claim = std::thread::spawn(move || {
            block_on(async move {
                sqlx::query(
                    "UPDATE shardmover.move_owners SET attempt = attempt + 1 WHERE migration_id = $1",
                )
                .bind(id.get())
                .execute(&pool(&url).await)
                .await
                .unwrap();
            })
        });
        block_on(async move {
            let watch = pool(&watch).await;
            while !claim.is_finished() && !claim_waits(&watch).await {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        });
    });
    let err = mover.run(id, &interlude).await.unwrap_err();
    assert_eq!(err.code(), "lost_ownership", "{err}");
    let copied: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(rows_done), 0)::int8 FROM shardmover.copy_checkpoints WHERE migration_id = $1",
    )
    .bind(id.get())
    .fetch_one(env.as_mover("shard_2"))
    .await
    .unwrap();
    let on_target = dump(&env.shard_2, 7).await.len() as i64;
    assert_eq!(
        on_target, copied,
        "no chunk committed beyond its checkpoint"
    );
    assert!(
        on_target < 3_000,
        "the stale attempt stopped before the end ({on_target})"
    );
}

/// Whether the claim above queues for the lock of the chunk in flight.
async fn claim_waits(shard: &PgPool) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'
                          AND query LIKE 'UPDATE shardmover.move_owners%')",
    )
    .fetch_one(shard)
    .await
    .unwrap()
}

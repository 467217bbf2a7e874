//! An online move can be cancelled over the API in its online phases too —
//! while it catches up (the website still writable) and in the freeze (the
//! fence up) — and rolls back: the source as it was and writable, the target
//! without the website, no capture left behind.

use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use shardmover::domain::Phase;

use crate::app::{TOKEN, spawn_app};
use crate::helpers::{Interlude, block_on, dump};

// Two threads: the interlude blocks the one running the move while the API,
// on the other, answers the cancel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_move_is_cancelled_while_catching_up_or_freezing_and_rolls_back() {
    let app = spawn_app().await;
    let env = &app.env;
    for (website, phase) in [(7, Phase::CatchingUp), (8, Phase::Freezing)] {
        env.seed(website, "shard_1", 2_000).await;
        let before = dump(&env.shard_1, website).await;
        let mover = env.mover();
        let id = env.request(&mover, website, "shard_2", 500).await;
        let answered = Arc::new(Mutex::new(None));
        let cancel = Interlude::on_entering(phase, {
            let (address, answered) = (app.address.clone(), answered.clone());
            move || {
                let status = block_on(async move {
                    reqwest::Client::new()
                        .post(format!("{address}/api/v1/migrations/{}/cancel", id.get()))
                        .bearer_auth(TOKEN)
                        .send()
                        .await
                        .unwrap()
                        .status()
                });
                *answered.lock().unwrap() = Some(status);
            }
        });

        let error = mover.run(id, &cancel).await.unwrap_err();

        assert_eq!(
            *answered.lock().unwrap(),
            Some(StatusCode::ACCEPTED),
            "cancel in {phase:?}"
        );
        assert_eq!(error.code(), "cancelled", "{phase:?}: {error}");
        let record = env.mover().run_report(id).await.unwrap().record;
        assert_eq!(record.status.as_str(), "cancelled", "{phase:?}");
        assert_eq!(env.registry(website).await.as_deref(), Some("shard_1"));
        assert_eq!(dump(&env.shard_1, website).await, before, "{phase:?}");
        assert!(dump(&env.shard_2, website).await.is_empty(), "{phase:?}");
        sqlx::query(
            "UPDATE website_settings SET value = '\"after the cancel\"' WHERE website_id = $1",
        )
        .bind(website)
        .execute(&env.shard_1)
        .await
        .expect("the source takes the website's writes again");
        let capture: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM shardmover.changes) + (SELECT count(*) FROM shardmover.captured_websites)",
        )
        .fetch_one(env.as_mover("shard_1"))
        .await
        .unwrap();
        assert_eq!(
            capture, 0,
            "capture left behind after cancelling in {phase:?}"
        );
    }
}

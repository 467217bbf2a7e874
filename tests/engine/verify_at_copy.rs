//! An online move verifies each table at its copy's snapshot: the source's
//! rows as the copy read them against the target's once copied. Rows changed
//! after that snapshot are replayed and compared again before the cutover.
//! (A target row that differs from the snapshot leaves its table to the bulk
//! check, which names it: `interruptions`' rotted row.)

use crate::helpers::{Interlude, TestEnv, block_on, dump, pool};

/// Pages the 3,000-row tenant holds; the copy has passed them after 2,500 rows
/// (pages, page parts and products come first, orders follow).
const PAGES: i64 = 300;

#[tokio::test]
async fn a_row_changed_on_the_source_after_its_table_was_copied_is_replayed_and_the_table_verified_at_the_copys_snapshot()
 {
    // Every page counted: fingerprinted at the copy's snapshot, not by the
    // bulk check, which leaves the changed (touched) key out.
    let checksum = move_with_a_change_after_the_copy(true).await;
    assert!(checksum.starts_with(&format!("{PAGES}:")), "{checksum}");
}

#[tokio::test]
async fn with_verification_while_copying_off_catch_up_checks_every_row_but_the_changed_one() {
    let checksum = move_with_a_change_after_the_copy(false).await;
    assert!(
        checksum.starts_with(&format!("{}:", PAGES - 1)),
        "{checksum}"
    );
}

/// Moves a website, one page changed on the source once its table is copied;
/// checks the moved rows and returns the pages' recorded source checksum.
async fn move_with_a_change_after_the_copy(verify_while_copying: bool) -> String {
    let env = TestEnv::new().await;
    env.seed(7, "shard_1", 3_000).await;
    let mover = env.mover_with(|s| s.engine.verify_while_copying = verify_while_copying);
    let id = env.request(&mover, 7, "shard_2", 100).await;
    let url = env.app_urls[0].clone();
    let expected = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let slot = expected.clone();
    let change = Interlude::after(2_500, move || {
        block_on(async move {
            let app = pool(&url).await;
            sqlx::query("UPDATE pages SET title = 'changed after the copy' WHERE id = 700000050")
                .execute(&app)
                .await
                .unwrap();
            *slot.lock().unwrap() = dump(&app, 7).await;
        })
    });

    let outcome = mover.run(id, &change).await.unwrap();

    assert!(change.ran());
    assert_eq!(outcome.record.status.as_str(), "completed");
    let expected = expected.lock().unwrap().clone();
    assert!(
        expected
            .iter()
            .any(|row| row.contains("changed after the copy"))
    );
    assert_eq!(dump(&env.shard_2, 7).await, expected);
    let pages = outcome
        .tables
        .iter()
        .find(|t| t.name == "public.pages")
        .unwrap();
    assert!(pages.verified);
    pages.source_checksum.clone().unwrap_or_default()
}

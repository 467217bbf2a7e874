//! PropertyWebBuilder's real schema (tests/fixtures/pwb/: 78 tables, 14 of
//! them reached only through parents, several by more than one path) with its
//! own tenancy settings: the dry run finds every table its README says is
//! moved, the way the README says, and nothing else; a website moves online
//! while the application keeps writing it and arrives exactly as it was
//! frozen; the source keeps nothing of it and all of its neighbour.

mod fixture;
mod rows;
mod toucher;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shardmover::domain::{MoveRequest, Phase};
use shardmover::ids::MoveId;
use shardmover::mover::{MoveOutcome, Mover, Silent};

use self::fixture::{KEYED, LEFT_ALONE, THROUGH_PARENTS, path_text, pwb_env};
use self::rows::{
    assert_no_rows, assert_properties, assert_same_rows, count_left_alone, plan_on, rows_of,
};
use self::toucher::Toucher;
use crate::helpers::{Interlude, block_on, fences, pool, shard, website};

/// Tables the move leaves behind whose rows of a website the seed can name.
const STAYS_BEHIND: [&str; 5] = [
    "pwb_subdomains",
    "pwb_shard_audit_logs",
    "active_storage_attachments",
    "active_storage_blobs",
    "active_storage_variant_records",
];

#[tokio::test]
async fn the_pwb_dry_run_finds_each_table_the_readme_moves_by_the_way_it_names_and_no_other() {
    let env = pwb_env().await;

    let report = env
        .mover()
        .preflight(website(11), &shard("shard_2"))
        .await
        .unwrap();

    eprintln!("{:<36} {:>5}  found by", "table (copy order)", "rows");
    for table in &report.tables {
        eprintln!("{:<36} {:>5}  {}", table.name, table.rows, table.owner);
    }
    eprintln!("{:<36} {:>5}", "total", report.rows_total);
    let plan: BTreeMap<&str, _> = report
        .plan
        .iter()
        .map(|t| (t.name.name.as_str(), &t.owner))
        .collect();
    for name in KEYED {
        assert_eq!(
            plan.get(name).and_then(|o| o.own_column()),
            Some("website_id"),
            "{name}"
        );
    }
    assert_eq!(
        plan.get("pwb_field_keys").and_then(|o| o.own_column()),
        Some("pwb_website_id"),
        "tenancy.key_columns names pwb_field_keys' column"
    );
    for (name, paths) in THROUGH_PARENTS {
        let owner = plan
            .get(name)
            .unwrap_or_else(|| panic!("{name} is in the plan"));
        let found: BTreeSet<String> = path_text(owner).into_iter().collect();
        let expected: BTreeSet<String> = paths.iter().map(|p| (*p).to_owned()).collect();
        assert_eq!(found, expected, "every path of {name}");
    }
    assert_eq!(plan.len(), KEYED.len() + 1 + THROUGH_PARENTS.len());
    for name in LEFT_ALONE {
        assert!(!plan.contains_key(name), "{name} is left alone");
    }
    let every_table: BTreeSet<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
            .fetch_all(&env.shard_1)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let classified: BTreeSet<String> = plan
        .keys()
        .chain(LEFT_ALONE.iter())
        .map(|n| (*n).to_owned())
        .collect();
    assert_eq!(every_table.len(), 78);
    assert_eq!(
        every_table, classified,
        "the README accounts for every table"
    );
    let empty: Vec<&str> = report
        .tables
        .iter()
        .filter(|t| t.rows == 0)
        .map(|t| t.name.as_str())
        .collect();
    assert!(
        empty.is_empty(),
        "the seed fills every moved table: {empty:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pwb_website_moves_online_under_the_application_and_arrives_exactly_as_frozen() {
    let env = pwb_env().await;
    let plan = plan_on(&env, &env.shard_1).await;
    let mover = env.mover();
    // The source keeps its rows (fenced), as the freeze left them, to compare with.
    let id = request(&mover, 11, true).await;
    let writers = (
        Toucher::start(&env, 11, "shard_1"),
        Toucher::start(&env, 12, "shard_1"),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    let outcome = mover.run(id, &Silent).await.unwrap();

    let (eleven, twelve) = (writers.0.stop().await, writers.1.stop().await);
    eprintln!(
        "touches: 11 {eleven:?}, 12 {twelve:?}; {:?}",
        outcome.timings
    );
    assert_completed(&outcome);
    assert!(eleven.moved, "the application followed the registry");
    assert!(
        eleven.done > 5 && twelve.done > 5,
        "both websites were written"
    );
    let target_plan = plan_on(&env, &env.shard_2).await;
    let owners = |plan: &[shardmover::tenancy::TenantTable]| -> Vec<String> {
        plan.iter().map(|t| t.owner.describe()).collect()
    };
    assert_eq!(owners(&target_plan), owners(&plan), "both shards agree");
    let frozen = rows_of(&env.shard_1, &plan, 11).await;
    assert_same_rows(&rows_of(&env.shard_2, &target_plan, 11).await, &frozen);
    let touched: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pwb_realty_assets WHERE website_id = 11 AND reference = 'TOUCH-11'",
    )
    .fetch_one(&env.shard_2)
    .await
    .unwrap();
    assert!(touched > 0, "the application's writes moved too");
    assert_no_rows(&env.shard_2, &target_plan, 12).await;
    for table in STAYS_BEHIND {
        assert!(
            count_left_alone(&env.shard_1, table, 11).await > 0,
            "{table}"
        );
        assert_eq!(
            count_left_alone(&env.shard_2, table, 11).await,
            0,
            "{table}"
        );
    }
    assert_eq!(fences(&env, "shard_1").await, vec![11]);
    let refused = sqlx::query("SELECT pwb_touch_website(11)")
        .execute(&env.shard_1)
        .await
        .unwrap_err();
    assert_eq!(
        refused
            .as_database_error()
            .and_then(|e| e.code())
            .as_deref(),
        Some("SMF01"),
        "the kept source refuses the website's writes"
    );
    assert_properties(&env.shard_2, 11).await;
    sqlx::query("SELECT pwb_touch_website(11)")
        .execute(&env.shard_2)
        .await
        .expect("the website's new shard takes its writes");

    // Finalizing deletes the kept rows through every parent path, and no row
    // of the neighbour.
    let neighbour = rows_of(&env.shard_1, &plan, 12).await;
    let (_, deleted) = mover.finalize(website(11)).await.unwrap();
    assert_eq!(
        deleted as usize,
        frozen.values().map(Vec::len).sum::<usize>()
    );
    assert_no_rows(&env.shard_1, &plan, 11).await;
    assert_eq!(rows_of(&env.shard_1, &plan, 12).await, neighbour);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_pwb_website_leaves_no_row_of_its_plan_on_the_source_and_every_row_of_its_neighbour()
 {
    let env = pwb_env().await;
    let plan = plan_on(&env, &env.shard_1).await;
    let mover = env.mover();
    let neighbour = rows_of(&env.shard_1, &plan, 11).await;
    // The source's rows are deleted at cleanup: read them once frozen and
    // drained, when the move verifies them.
    let frozen = Arc::new(Mutex::new(BTreeMap::new()));
    let read_frozen = Interlude::on_entering(Phase::Verifying, {
        let (frozen, url, plan) = (frozen.clone(), env.app_urls[0].clone(), plan.clone());
        move || {
            *frozen.lock().unwrap() =
                block_on(async { rows_of(&pool(&url).await, &plan, 12).await })
        }
    });
    let id = request(&mover, 12, false).await;
    let writer = Toucher::start(&env, 12, "shard_1");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let outcome = mover.run(id, &read_frozen).await.unwrap();

    let twelve = writer.stop().await;
    eprintln!("touches: 12 {twelve:?}; {:?}", outcome.timings);
    assert_completed(&outcome);
    assert!(
        read_frozen.ran() && twelve.moved && twelve.done > 5,
        "{twelve:?}"
    );
    let target_plan = plan_on(&env, &env.shard_2).await;
    let frozen = frozen.lock().unwrap().clone();
    assert_same_rows(&rows_of(&env.shard_2, &target_plan, 12).await, &frozen);
    assert_no_rows(&env.shard_1, &plan, 12).await;
    assert_eq!(rows_of(&env.shard_1, &plan, 11).await, neighbour);
    // What the moved tables still hold is all the neighbour's: no row was
    // unreachable from its website, and none was deleted with the wrong one.
    for table in &plan {
        let left: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {}",
            table.name.quoted()
        )))
        .fetch_one(&env.shard_1)
        .await
        .unwrap();
        assert_eq!(
            left as usize,
            neighbour[&table.name.name].len(),
            "{}",
            table.name
        );
    }
    for table in STAYS_BEHIND {
        assert!(
            count_left_alone(&env.shard_1, table, 12).await > 0,
            "{table}"
        );
    }
    assert_properties(&env.shard_2, 12).await;
    sqlx::query("REFRESH MATERIALIZED VIEW pwb_properties")
        .execute(&env.shard_1)
        .await
        .unwrap();
    let listed: Vec<i64> =
        sqlx::query_scalar("SELECT DISTINCT website_id::int8 FROM pwb_properties")
            .fetch_all(&env.shard_1)
            .await
            .unwrap();
    assert_eq!(
        listed,
        vec![11],
        "the source's view, refreshed, lists the neighbour only"
    );
}

async fn request(mover: &Mover, id: i64, keep_source: bool) -> MoveId {
    let request = MoveRequest {
        website: website(id),
        target: shard("shard_2"),
        keep_source,
        // Small chunks: the tables the application grows go in several.
        batch_rows: Some(50),
        requested_by: shardmover::ids::EmailAddress::parse("test@example.com").ok(),
        notes: None,
        mode: Default::default(),
    };
    mover.request(&request).await.unwrap().id
}

fn assert_completed(outcome: &MoveOutcome) {
    assert_eq!(
        outcome.record.status.as_str(),
        "completed",
        "{:?}",
        outcome.record.error_message
    );
}

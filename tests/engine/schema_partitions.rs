//! Partitioned tenant tables — range with list sub-partitions and a default
//! partition, and hash — moved online under a writer whose updates carry rows
//! from one partition to another; a partition's `TRUNCATE` is refused while
//! its website is watched, as a plain table's is.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use shardmover::mover::{FENCE_SQLSTATE, Silent};
use sqlx::PgPool;

use crate::helpers::{Interlude, TestEnv, shard, website};
use crate::least_privilege::AppSession;

const SCHEMA: &str = "
CREATE TABLE p_events (
    id bigserial, website_id bigint NOT NULL, happened date NOT NULL,
    kind text NOT NULL, payload jsonb,
    PRIMARY KEY (id, happened, kind)) PARTITION BY RANGE (happened);
CREATE TABLE p_events_2025 PARTITION OF p_events
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') PARTITION BY LIST (kind);
CREATE TABLE p_events_2025_views PARTITION OF p_events_2025 FOR VALUES IN ('view');
CREATE TABLE p_events_2025_other PARTITION OF p_events_2025 DEFAULT;
CREATE TABLE p_events_2026 PARTITION OF p_events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE p_events_default PARTITION OF p_events DEFAULT;
CREATE INDEX p_events_website ON p_events (website_id);
CREATE TABLE p_tags (id bigint, website_id bigint NOT NULL, tag text,
    PRIMARY KEY (id, website_id)) PARTITION BY HASH (website_id);
CREATE TABLE p_tags_0 PARTITION OF p_tags FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE p_tags_1 PARTITION OF p_tags FOR VALUES WITH (MODULUS 2, REMAINDER 1);";

pub(crate) async fn partitioned_env() -> TestEnv {
    let env = TestEnv::new().await;
    for pool in [&env.shard_1, &env.shard_2] {
        sqlx::raw_sql(SCHEMA).execute(pool).await.unwrap();
    }
    env
}

pub(crate) async fn seed(pool: &PgPool, id: i64, events: i64) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO p_events (website_id, happened, kind, payload)
              SELECT {id}, date '2024-06-01' + (n % 1000), (ARRAY['view','click','buy'])[1 + n % 3],
                     jsonb_build_object('n', n)
                FROM generate_series(1, {events}) n;
         INSERT INTO p_tags (id, website_id, tag) SELECT n, {id}, 't' || n FROM generate_series(1, 50) n;"
    )))
    .execute(pool)
    .await
    .unwrap();
}

/// (id, happened, kind) → payload, and tags.
type Events = BTreeMap<(i64, String, String), Option<String>>;

async fn events(pool: &PgPool, id: i64) -> (Events, Vec<(i64, Option<String>)>) {
    let rows: Vec<(i64, String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, happened::text, kind, payload::text FROM p_events WHERE website_id = $1",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap();
    let tags = sqlx::query_as("SELECT id, tag FROM p_tags WHERE website_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap();
    let events = rows
        .into_iter()
        .map(|(i, h, k, p)| ((i, h, k), p))
        .collect();
    (events, tags)
}

/// Writes website `id` where the registry says it lives: inserts in every
/// partition, moves rows across partitions, deletes; retries what the fence
/// refuses. Returns the model of what was acknowledged.
fn write(
    env: &TestEnv,
    id: i64,
    mut model: Events,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Events> {
    let pools = [env.shard_1.clone(), env.shard_2.clone()];
    let control = env.control.clone();
    tokio::spawn(async move {
        let mut n = 0u32;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let shard: Option<String> =
                sqlx::query_scalar("SELECT shard_name FROM pwb_websites WHERE id = $1")
                    .bind(id)
                    .fetch_one(&control)
                    .await
                    .unwrap();
            let pool = &pools[usize::from(shard.as_deref() == Some("shard_2"))];
            let victim = model
                .keys()
                .nth(n as usize * 13 % model.len())
                .cloned()
                .unwrap();
            let result = match n % 3 {
                0 => sqlx::query_as::<_, (i64, String, String, Option<String>)>(
                    "INSERT INTO p_events (website_id, happened, kind, payload)
                     VALUES ($1, date '2024-12-30' + ($2 % 800)::int, (ARRAY['view','click'])[1 + $2 % 2], '{}')
                     RETURNING id, happened::text, kind, payload::text",
                )
                .bind(id)
                .bind(n as i32)
                .fetch_one(pool)
                .await
                .map(|(i, h, k, p)| (None, Some(((i, h, k), p)))),
                // Across partitions: a new year and a new kind.
                1 => sqlx::query_as::<_, (i64, String, String, Option<String>)>(
                    "UPDATE p_events SET happened = happened + 400, kind = 'moved', payload = '{\"m\": 1}'
                      WHERE id = $1 AND happened = $2::date AND kind = $3
                     RETURNING id, happened::text, kind, payload::text",
                )
                .bind(victim.0)
                .bind(&victim.1)
                .bind(&victim.2)
                .fetch_one(pool)
                .await
                .map(|(i, h, k, p)| (Some(victim.clone()), Some(((i, h, k), p)))),
                _ => sqlx::query("DELETE FROM p_events WHERE id = $1 AND happened = $2::date AND kind = $3")
                    .bind(victim.0)
                    .bind(&victim.1)
                    .bind(&victim.2)
                    .execute(pool)
                    .await
                    .map(|_| (Some(victim.clone()), None)),
            };
            match result {
                Ok((gone, new)) => {
                    if let Some(key) = gone {
                        model.remove(&key);
                    }
                    if let Some((key, payload)) = new {
                        model.insert(key, payload);
                    }
                }
                Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some(FENCE_SQLSTATE) => {
                    tokio::time::sleep(Duration::from_millis(5)).await
                }
                Err(e) => panic!("the application's write failed: {e}"),
            }
        }
        model
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioned_tables_move_online_exactly_while_rows_cross_partitions() {
    let env = partitioned_env().await;
    env.seed(7, "shard_1", 500).await;
    env.seed(8, "shard_1", 200).await;
    seed(&env.shard_1, 7, 20_000).await;
    seed(&env.shard_1, 8, 300).await;
    let neighbour = events(&env.shard_1, 8).await;
    let (before, tags) = events(&env.shard_1, 7).await;
    let mover = env.mover();
    let plan = mover
        .preflight(website(7), &shard("shard_2"))
        .await
        .unwrap();
    let names: Vec<&str> = plan.tables.iter().map(|t| t.name.as_str()).collect();
    assert!(
        names.contains(&"public.p_events") && names.contains(&"public.p_tags"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains("p_events_20")),
        "partitions go through their root: {names:?}"
    );

    let id = env.request(&mover, 7, "shard_2", 2_000).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = write(&env, 7, before, stop.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let outcome = mover.run(id, &Silent).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let model = writer.await.unwrap();

    assert_eq!(
        outcome.record.status.as_str(),
        "completed",
        "{:?}",
        outcome.record.error_message
    );
    let (moved, moved_tags) = events(&env.shard_2, 7).await;
    assert_eq!(moved.len(), model.len(), "events on the target");
    assert!(
        moved == model,
        "the target's events equal the writer's model"
    );
    assert_eq!(moved_tags, tags);
    assert!(
        moved.keys().any(|(_, _, kind)| kind == "moved"),
        "rows crossed partitions during the move"
    );
    assert_eq!(
        events(&env.shard_1, 7).await,
        Default::default(),
        "the source keeps nothing"
    );
    assert_eq!(
        events(&env.shard_1, 8).await,
        neighbour,
        "the neighbour keeps all"
    );
}

#[tokio::test]
async fn truncating_a_partition_is_refused_while_its_website_moves() {
    let env = partitioned_env().await;
    env.seed(7, "shard_1", 600).await;
    seed(&env.shard_1, 7, 3_000).await;
    let (tx, rx) = std::sync::mpsc::channel();
    let url = env.app_urls[0].clone();
    let interlude = Interlude::after(200, move || {
        // The copy reads a table in one transaction, which holds the partition
        // until the table is copied: the TRUNCATE may wait for it, as the
        // application's would, and then the move must go on.
        let truncate = AppSession::open(&url);
        truncate.start("TRUNCATE p_events_2026");
        let looks = AppSession::open(&url);
        let waiting =
            "SELECT 1 FROM pg_locks WHERE NOT granted AND relation = 'p_events_2026'::regclass";
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(ended) = truncate.outcome_within(Duration::from_millis(10)) {
                return tx.send(ended).unwrap();
            }
            if looks.run(waiting) == Ok(1) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the TRUNCATE neither ended nor waited"
            );
        }
        std::thread::spawn(move || {
            let ended = truncate.outcome_within(Duration::from_secs(60));
            tx.send(ended.expect("the TRUNCATE waited for a minute"))
                .unwrap();
        });
    });
    let mover = env.mover();
    let id = env.request(&mover, 7, "shard_2", 200).await;
    let outcome = mover.run(id, &interlude).await.unwrap();
    assert_eq!(outcome.record.status.as_str(), "completed");
    let message = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap()
        .expect_err("TRUNCATE must be refused");
    assert!(
        message.starts_with(FENCE_SQLSTATE) && message.contains("TRUNCATE"),
        "{message}"
    );
}

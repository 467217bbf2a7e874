//! The application, writing while its website moves: one task that inserts,
//! updates and deletes rows of the moving website (and of a neighbour on the
//! same shard) as fast as it can, routing every write by the registry and
//! retrying when the fence refuses it. It keeps a model of every write the
//! database acknowledged, which the tests compare with where the rows end up.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::helpers::TestEnv;

/// The rows one website should have, by the writer's log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Model {
    /// orders: id → (quantity, note)
    pub orders: BTreeMap<i64, (i32, Option<String>)>,
    /// products: id → name
    pub products: BTreeMap<i64, String>,
    /// website_settings: key → value as text
    pub settings: BTreeMap<String, Option<String>>,
}

impl Model {
    pub async fn read(pool: &PgPool, website: i64) -> Self {
        let orders: Vec<(i64, i32, Option<String>)> =
            sqlx::query_as("SELECT id, quantity, note FROM orders WHERE website_id = $1")
                .bind(website)
                .fetch_all(pool)
                .await
                .unwrap();
        let products: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, name FROM products WHERE website_id = $1")
                .bind(website)
                .fetch_all(pool)
                .await
                .unwrap();
        let settings: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT key, value::text FROM website_settings WHERE website_id = $1")
                .bind(website)
                .fetch_all(pool)
                .await
                .unwrap();
        Self {
            orders: orders.into_iter().map(|(i, q, n)| (i, (q, n))).collect(),
            products: products.into_iter().collect(),
            settings: settings.into_iter().collect(),
        }
    }
}

/// What the writer saw.
#[derive(Debug, Default)]
pub struct Log {
    pub moving: Model,
    pub neighbour: Model,
    /// Writes the database acknowledged, per website.
    pub acknowledged: BTreeMap<i64, u64>,
    /// Fence refusals, per website.
    pub refusals: BTreeMap<i64, u64>,
    /// The longest time one write of the moving website took, refusals and
    /// retries included.
    pub longest_wait: Duration,
}

pub struct Writer {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Log>,
}

impl Writer {
    /// Starts writing `moving` (and `neighbour`, which stays on shard_1).
    pub async fn start(env: &TestEnv, moving: i64, neighbour: i64) -> Self {
        let mut log = Log {
            moving: Model::read(&env.shard_1, moving).await,
            neighbour: Model::read(&env.shard_1, neighbour).await,
            ..Log::default()
        };
        let stop = Arc::new(AtomicBool::new(false));
        let app = App {
            registry: env.app_control.clone(),
            shards: [env.shard_1.clone(), env.shard_2.clone()],
        };
        let stopping = stop.clone();
        let task = tokio::spawn(async move {
            let mut step = 0u64;
            while !stopping.load(Ordering::SeqCst) {
                step += 1;
                let website = if step.is_multiple_of(4) {
                    neighbour
                } else {
                    moving
                };
                let started = Instant::now();
                let model = if website == moving {
                    &mut log.moving
                } else {
                    &mut log.neighbour
                };
                let refused = app.write(website, step, model).await;
                *log.acknowledged.entry(website).or_default() += 1;
                *log.refusals.entry(website).or_default() += refused;
                if website == moving {
                    log.longest_wait = log.longest_wait.max(started.elapsed());
                }
            }
            log
        });
        Self { stop, task }
    }

    pub async fn stop(self) -> Log {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.unwrap()
    }
}

struct App {
    registry: PgPool,
    shards: [PgPool; 2],
}

impl App {
    /// One acknowledged write; returns how many times the fence refused it first.
    async fn write(&self, website: i64, step: u64, model: &mut Model) -> u64 {
        let mut refused = 0;
        loop {
            let shard: String =
                sqlx::query_scalar("SELECT shard_name FROM pwb_websites WHERE id = $1")
                    .bind(website)
                    .fetch_one(&self.registry)
                    .await
                    .unwrap();
            let pool = if shard == "shard_1" {
                &self.shards[0]
            } else {
                &self.shards[1]
            };
            match one_write(pool, website, step, model).await {
                Ok(()) => return refused,
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("SMF01") => {
                    refused += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err(e) => panic!("write {step} for website {website} failed: {e}"),
            }
        }
    }
}

/// Inserts, updates, deletes, and moves a settings row into and out of the
/// website, in turn; the model changes only once the database acknowledged.
async fn one_write(
    pool: &PgPool,
    website: i64,
    step: u64,
    model: &mut Model,
) -> Result<(), sqlx::Error> {
    let pick = |keys: Vec<i64>| keys[(step as usize * 7919) % keys.len()];
    match step % 7 {
        0 | 1 => {
            let product = *model.products.keys().next().expect("seeded products");
            let note = format!("written {step}");
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO orders (website_id, product_id, quantity, total, ordered_at, note)
                 VALUES ($1, $2, $3, 1.50, now(), $4) RETURNING id",
            )
            .bind(website)
            .bind(product)
            .bind((step % 100) as i32)
            .bind(&note)
            .fetch_one(pool)
            .await?;
            model.orders.insert(id, ((step % 100) as i32, Some(note)));
        }
        2 => {
            let id = pick(model.orders.keys().copied().collect());
            let note = format!("updated {step}");
            let done = sqlx::query(
                "UPDATE orders SET quantity = $3, note = $4 WHERE id = $1 AND website_id = $2",
            )
            .bind(id)
            .bind(website)
            .bind(-((step % 100) as i32))
            .bind(&note)
            .execute(pool)
            .await?;
            assert_eq!(done.rows_affected(), 1, "order {id} of website {website}");
            model
                .orders
                .insert(id, (-((step % 100) as i32), Some(note)));
        }
        3 => {
            let id = pick(model.orders.keys().copied().collect());
            let done = sqlx::query("DELETE FROM orders WHERE id = $1 AND website_id = $2")
                .bind(id)
                .bind(website)
                .execute(pool)
                .await?;
            assert_eq!(done.rows_affected(), 1, "order {id} of website {website}");
            model.orders.remove(&id);
        }
        4 => {
            let id = pick(model.products.keys().copied().collect());
            let name = format!("renamed {step} ✓");
            sqlx::query("UPDATE products SET name = $3 WHERE id = $1 AND website_id = $2")
                .bind(id)
                .bind(website)
                .bind(&name)
                .execute(pool)
                .await?;
            model.products.insert(id, name);
        }
        5 => {
            // A settings row born under another website id, then moved into
            // this website by an update of its key column: a row entering it.
            let key = format!("k{step}");
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO website_settings (website_id, key, value) VALUES (-1, $1, $2)",
            )
            .bind(&key)
            .bind(serde_json::json!({ "step": step }))
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE website_settings SET website_id = $1 WHERE website_id = -1 AND key = $2",
            )
            .bind(website)
            .bind(&key)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            model
                .settings
                .insert(key, Some(format!("{{\"step\": {step}}}")));
        }
        _ => {
            // A row leaving the website the same way.
            let Some(key) = model.settings.keys().find(|k| k.starts_with('k')).cloned() else {
                return Ok(());
            };
            let done = sqlx::query(
                "UPDATE website_settings SET website_id = -2 WHERE website_id = $1 AND key = $2",
            )
            .bind(website)
            .bind(&key)
            .execute(pool)
            .await?;
            assert_eq!(
                done.rows_affected(),
                1,
                "setting {key} of website {website}"
            );
            model.settings.remove(&key);
        }
    }
    Ok(())
}

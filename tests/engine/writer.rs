//! The application, writing while its website moves: one task that inserts,
//! updates and deletes rows of the moving website (and of a neighbour on the
//! same shard) as fast as it can, routing every write by the registry and
//! retrying when the fence refuses it. It keeps a model of every write the
//! database acknowledged, which the tests compare with where the rows end up:
//! the writes and the model are the online bench's (`cli/bench/model.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use shardmover::cli::bench::model::Model;
use shardmover::cli::bench::model::{Acked, Share, Write};
use sqlx::PgPool;

use crate::helpers::TestEnv;

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
        let read = |website| Model::read(&env.shard_1, website);
        let mut log = Log {
            moving: read(moving).await.unwrap(),
            neighbour: read(neighbour).await.unwrap(),
            ..Log::default()
        };
        let mut shares = [
            Share::whole(&log.moving, moving.to_string()),
            Share::whole(&log.neighbour, neighbour.to_string()),
        ];
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
                let (website, model, share) = if step.is_multiple_of(4) {
                    (neighbour, &mut log.neighbour, &mut shares[1])
                } else {
                    (moving, &mut log.moving, &mut shares[0])
                };
                let Some(write) = Write::next(model, share, step) else {
                    continue;
                };
                let started = Instant::now();
                let (refused, acked) = app.write(website, &write).await;
                write.apply(model, share, &acked);
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
    /// One acknowledged write, which must find its row; returns how many
    /// times the fence refused it first, and what the database acknowledged.
    async fn write(&self, website: i64, write: &Write) -> (u64, Acked) {
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
            match write.run(pool, website).await {
                Ok(acked) => {
                    assert!(acked.found, "{write:?} of website {website} found no row");
                    return (refused, acked);
                }
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("SMF01") => {
                    refused += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err(e) => panic!("{write:?} of website {website} failed: {e}"),
            }
        }
    }
}

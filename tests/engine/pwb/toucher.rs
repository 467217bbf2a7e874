//! The application writing one website while it moves.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::helpers::TestEnv;

/// The application writing one website: `pwb_touch_website(id)` on the shard
/// the registry names, again and again, retrying what the fence refuses. It
/// stops writing the website once the registry names a shard other than
/// `home`, so the target can be compared with the source as it was frozen.
pub struct Toucher {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Touches>,
}

#[derive(Debug, Default)]
pub struct Touches {
    /// Touches committed on the home shard.
    pub done: u64,
    /// Touches the fence refused (SQLSTATE SMF01).
    pub fenced: u64,
    /// The registry named another shard before the toucher was stopped.
    pub moved: bool,
}

impl Toucher {
    pub fn start(env: &TestEnv, id: i64, home: &str) -> Self {
        let pool = env.pool(home).clone();
        let control = env.control.clone();
        let home = home.to_owned();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let task = tokio::spawn(async move {
            let mut touches = Touches::default();
            while !stopping.load(Ordering::Relaxed) {
                let shard: Option<String> =
                    sqlx::query_scalar("SELECT shard_name FROM pwb_websites WHERE id = $1")
                        .bind(id)
                        .fetch_one(&control)
                        .await
                        .unwrap();
                if shard.as_deref() != Some(home.as_str()) {
                    touches.moved = true;
                    break;
                }
                match sqlx::query("SELECT pwb_touch_website($1)")
                    .bind(id)
                    .execute(&pool)
                    .await
                {
                    Ok(_) => {
                        touches.done += 1;
                        // A busy site's pace, not a tight loop: every touch
                        // adds rows, and the move should not chase thousands.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("SMF01") => {
                        touches.fenced += 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err(e) => panic!("touching website {id} failed: {e}"),
                }
            }
            touches
        });
        Self { stop, task }
    }

    pub async fn stop(self) -> Touches {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

//! The application context, built once at start-up (`startup::build`) and
//! handed to the API, the workers and the CLI: settings, the control pool, the
//! shard pools and the process's stop flag. The move engine (`Mover`) and shard
//! operations (`ShardOps`) take what they need from it; neither wraps the other.
//! Every clone shares the shard pools, so the moves of a process's workers and
//! its API's reads each draw on their own pool of every shard (`ShardPools`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::PgPool;

use crate::config::Settings;
use crate::shard_pools::ShardPools;

#[derive(Clone)]
pub struct App {
    pub(crate) settings: Arc<Settings>,
    pub(crate) control: PgPool,
    pub(crate) shards: ShardPools,
    /// Set when the process is shutting down: running moves stop at their next
    /// checkpoint and stay resumable.
    stopping: Arc<AtomicBool>,
}

impl App {
    /// Shard pools connect lazily: nothing is dialled here.
    pub fn new(settings: Arc<Settings>, control: PgPool) -> Self {
        let shards = ShardPools::new(&settings);
        Self {
            settings,
            control,
            shards,
            stopping: Arc::default(),
        }
    }

    /// This context with another control pool (the API's or the workers'),
    /// sharing settings, shard pools and the stop flag.
    pub fn with_control_pool(&self, control: PgPool) -> Self {
        Self {
            control,
            ..self.clone()
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn control_pool(&self) -> &PgPool {
        &self.control
    }

    /// Asks every move this process runs to stop at its next checkpoint.
    pub fn request_stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    pub(crate) fn stop_flag(&self) -> &AtomicBool {
        &self.stopping
    }
}

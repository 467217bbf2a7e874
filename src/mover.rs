//! The move engine: `Mover::request` records a move; `Mover::run` drives it to
//! an end, resuming from whatever phase and checkpoint an earlier attempt
//! reached.
//!
//! Where things are, from the entry points down:
//! - here and beside this file, `Mover`'s API: requests and the dry run
//!   (`request.rs`), running a move (`run.rs`), its failure (`rollback.rs`)
//!   and its end (`ending.rs`, told to `EndOfMove`), what it reports
//!   (`outcome.rs`, `progress.rs`),
//!   operators' tools (`admin/`);
//! - `phases/`: one file per phase, each taking the attempt's context;
//!   `phases.rs` walks them in order;
//! - `checks/`: what preflight checks before touching anything, and the
//!   report a dry run prints;
//! - `mechanics/`: how the work is done on the shards (copy, fence, replay,
//!   verification, sequences, deletes, ...).
//!
//! Each layer imports only those below it; only the entry points name `Mover`.

mod admin;
mod checks;
mod end_of_move;
mod ending;
mod error;
mod mechanics;
mod outcome;
mod phases;
pub mod progress;
mod request;
mod rollback;
mod run;

use std::sync::Arc;

use sqlx::PgPool;

pub use admin::fences::{FenceEntry, LiftRefused};
pub use checks::privileges;
pub use checks::report::{PreflightReport, TableReport};
pub use checks::schema_notes::{MaterializedView, SchemaNotes};
pub use end_of_move::EndOfMove;
pub use error::MoveError;
pub use mechanics::raw_pipe::raw_pipe;
pub use mechanics::shard_schema::{DDL_LOCK, FENCE_SQLSTATE};
pub use outcome::{MoveOutcome, Run, Timings};
pub use progress::{ProgressSink, Silent, Snapshot};

use crate::app::App;
use crate::config::Settings;

/// The move engine over the application context (its settings, control
/// pool, shard pools and stop flag, reached through `app` by name, never
/// `Deref`), telling each move's end to `endings`.
pub struct Mover {
    app: App,
    endings: Arc<dyn EndOfMove>,
}

impl Mover {
    pub fn new(app: App, endings: Arc<dyn EndOfMove>) -> Self {
        Self { app, endings }
    }

    /// This mover with another control pool (the API's or the workers'), sharing
    /// settings, shard pools, the stop flag and what it tells of a move's end.
    pub fn with_control_pool(&self, control: PgPool) -> Self {
        Self::new(self.app.with_control_pool(control), self.endings.clone())
    }

    /// The context this mover runs in.
    pub fn app(&self) -> &App {
        &self.app
    }

    pub fn settings(&self) -> &Settings {
        self.app.settings()
    }

    pub fn control_pool(&self) -> &PgPool {
        self.app.control_pool()
    }

    /// Asks every move this process runs to stop at its next checkpoint.
    pub fn request_stop(&self) {
        self.app.request_stop();
    }
}

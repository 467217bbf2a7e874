//! Durable background work on apalis's Postgres queue (schema `apalis` in the
//! control database). Payloads carry ids, never data; each job's core is a plain
//! `async fn` that tests call directly.

mod backoff;
pub mod freeze_watch;
pub mod move_job;
pub mod notify_job;
pub mod supervisor;
pub mod sweeper;
pub mod worker;

pub use backoff::backoff;
pub use move_job::run_move;
pub use notify_job::{Delivery, Notifier, run_notify};

//! How `shardmover bench` prints the move against the raw pipe: rows, both
//! times, where the move's time went, the cleanup, and the ratio.

use std::time::Duration;

use crate::mover::MoveOutcome;

/// One run of the move against the raw pipe, as `print_move` reports it.
pub(super) struct Measured<'a> {
    pub(super) rows: u64,
    pub(super) raw: Duration,
    pub(super) engine: Duration,
    pub(super) cleanup: Duration,
    pub(super) deleted: u64,
    pub(super) batch_rows: u32,
    pub(super) outcome: &'a MoveOutcome,
}

pub(super) fn print_move(m: &Measured<'_>) {
    let t = &m.outcome.timings;
    let rate = |secs: f64| m.rows as f64 / secs;
    println!(
        "tenant rows: {} in {} tables, chunk {} rows",
        m.rows,
        m.outcome.tables.len(),
        m.batch_rows
    );
    println!(
        "raw binary COPY pipe:                 {:>7.2}s  {:>9.0} rows/s",
        m.raw.as_secs_f64(),
        rate(m.raw.as_secs_f64())
    );
    println!(
        "online move, no writes (no cleanup): {:>7.2}s  {:>9.0} rows/s",
        m.engine.as_secs_f64(),
        rate(m.engine.as_secs_f64())
    );
    println!(
        "  preflight {:.2}s, copy {:.2}s, catch-up {:.2}s, freeze {} ms \
         (verify {:.2}s, cutover {:.2}s inside it)",
        t.preflight.as_secs_f64(),
        t.copy.as_secs_f64(),
        t.catch_up.as_secs_f64(),
        m.outcome.record.freeze_ms().unwrap_or(-1),
        t.verify.as_secs_f64(),
        t.cutover.as_secs_f64()
    );
    println!(
        "cleanup (delete {} source rows): {:.2}s",
        m.deleted,
        m.cleanup.as_secs_f64()
    );
    println!(
        "ratio move / raw pipe: {:.2}x (target <= 1.30x)",
        m.engine.as_secs_f64() / m.raw.as_secs_f64()
    );
}

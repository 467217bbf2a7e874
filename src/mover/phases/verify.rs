//! Phase 4, verifying: an offline move compares every row of every table
//! (fence up); an online one, inside its freeze, drains once more and compares
//! the rows changes touched (`freeze.rs`), the rest having been verified while
//! catching up. Each table's fingerprints are recorded on the move.

use std::time::Instant;

use super::context::PhaseContext;
use crate::domain::{MoveMode, Phase};
use crate::mover::error::MoveError;
use crate::mover::mechanics::{references, verify};

/// Verifying, then Cutover (unless a cancel came first).
pub(crate) async fn run(cx: &mut PhaseContext<'_, '_>) -> Result<(), MoveError> {
    let started = Instant::now();
    if cx.record().mode == MoveMode::Online {
        cx.verify_frozen().await?;
    } else {
        cx.verify_all().await?;
    }
    cx.attempt.timings.verify = started.elapsed();
    cx.attempt.tracker.check_cancel().await?;
    cx.attempt.set_phase(Phase::Cutover).await
}

impl PhaseContext<'_, '_> {
    async fn verify_all(&mut self) -> Result<(), MoveError> {
        let (source, target) = (self.source, self.target);
        let record = self.record().clone();
        let plan = self.plan().await?;
        for table in &plan {
            let (src, dst) =
                verify::compare(source, target, table, record.website, record.batch_rows).await?;
            self.attempt.record_checksums(table, &src, &dst).await?;
        }
        let rows = self.planned_rows(&plan).await?;
        references::check(target, &plan, &rows, record.website).await
    }
}

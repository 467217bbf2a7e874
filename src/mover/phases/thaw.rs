//! A freeze that cannot finish lifts its fence and goes back to catching up:
//! a transient error inside the freeze (the drain, the verification of touched
//! rows), or an attempt that finds the move stopped inside one (a crash, a
//! lost worker). The next freeze is entered only through catch-up's check that
//! the backlog fits the budget, so no retry drains what built up during a
//! backoff with the website's writes refused.

use tracing::{info, warn};

use super::context::PhaseContext;
use crate::control::migrations::{self, FreezeEnd};
use crate::domain::Phase;
use crate::mover::error::{Context, MoveError};
use crate::mover::mechanics::owner_token;

/// Lifts this move's fence on the source and records the move back in
/// `CatchingUp`.
pub(crate) async fn run(cx: &mut PhaseContext<'_, '_>) -> Result<(), MoveError> {
    cx.thaw().await
}

/// After `error` inside the freeze: a transient one thaws it (best effort:
/// if that fails too, the next attempt or the freeze watcher thaws it);
/// others roll back, which lifts the fence as well. Never once the
/// cutover's commit was sent: if it landed, the website lives on the
/// target and the source must stay fenced. Returns `error`.
pub(crate) async fn after(cx: &mut PhaseContext<'_, '_>, error: MoveError) -> MoveError {
    let benign = matches!(error, MoveError::LostOwnership { .. }) || cx.attempt.cutover_sent;
    if error.is_transient()
        && !benign
        && let Err(thaw) = cx.thaw().await
    {
        warn!(error = %thaw, "could not lift the fence after a failed freeze; the next attempt will");
    }
    error
}

impl PhaseContext<'_, '_> {
    async fn thaw(&mut self) -> Result<(), MoveError> {
        let record = self.record().clone();
        owner_token::claim(self.source, record.id, self.attempt.token).await?;
        self.lift_fence_owned().await?;
        let attempt = &mut *self.attempt;
        attempt.fenced_at = None;
        let mut conn = attempt.control_conn().await?;
        let thawed = migrations::thaw(&mut conn, record.id, attempt.token, FreezeEnd::Thaw)
            .await
            .context(|| "recording the move back in catch-up".into())?;
        attempt.owned(thawed)?;
        attempt.record.phase = Phase::CatchingUp;
        attempt.record.freeze_started_at = None;
        attempt.tracker.set_phase(Phase::CatchingUp);
        info!(website_id = %record.website, "the freeze did not finish: fence lifted, catching up again");
        Ok(())
    }
}

//! Online moves, the freeze: the website's writes are refused on the source
//! (the fence, `SMF01`; applications retry against the shard the registry
//! names), the last captured changes are drained, the rows they touched are
//! verified, and the cutover follows. The freeze is recorded from just before
//! the fence goes up to the registry switch, which ends it. It is bounded
//! whatever happens: past `engine.freeze_limit_ms` with the fence up the mover
//! gives up and thaws (`FreezeOverLimit`), and a mover that died with its fence
//! up has it lifted by the freeze watcher of any worker (`freeze_watch.rs`).

use tracing::info;

use super::catch_up::backlog;
use super::context::PhaseContext;
use crate::control::migrations;
use crate::domain::Phase;
use crate::mover::error::{Context, MoveError};
use crate::mover::mechanics::owner_token;
use crate::mover::mechanics::replay::{Replay, replay_batch};
use crate::mover::mechanics::verify::online::{self as verify_online, Scope};

/// Freezing, then Verifying. Any error here leaves the fence up: the walk
/// thaws (`thaw::after`), unless the cutover's commit was sent, whose outcome
/// only the control database knows.
pub(crate) async fn run(cx: &mut PhaseContext<'_, '_>) -> Result<(), MoveError> {
    cx.freeze().await?;
    cx.attempt.set_phase(Phase::Verifying).await
}

// The freeze's steps; the verifying phase of an online move runs the last.
impl PhaseContext<'_, '_> {
    /// Freezing: fence the website and drain what the change log still holds.
    async fn freeze(&mut self) -> Result<(), MoveError> {
        let record = self.record().clone();
        let plan = self.plan().await?;
        let mut conn = self.attempt.control_conn().await?;
        let budget_ms = self.engine().freeze_budget_ms;
        let started = migrations::start_freeze(&mut conn, record.id, self.attempt.token, budget_ms)
            .await
            .context(|| "recording the freeze".into())?;
        self.attempt.owned(started)?;
        drop(conn);
        // Owned on the source too, so the freeze watcher can fence this
        // attempt out of raising once it has taken the move over.
        owner_token::claim(self.source, record.id, self.attempt.token).await?;
        self.raise_fence_owned(&plan).await?;
        self.attempt.fenced_at = Some(std::time::Instant::now());
        self.drain().await
    }

    /// Replays every change left; with the fence up no new one arrives.
    async fn drain(&mut self) -> Result<(), MoveError> {
        let (source, target) = (self.source, self.target);
        let record = self.record().clone();
        let plan = self.plan().await?;
        let owned = self.owned_sequences(&plan).await?;
        owner_token::claim(target, record.id, self.attempt.token).await?;
        let job = Replay::new(&plan, &record, self.attempt.token, owned);
        let limit_ms = self.engine().freeze_limit_ms;
        let attempt = &mut *self.attempt;
        loop {
            attempt.within_freeze_limit(limit_ms)?;
            let drained = replay_batch(source, target, &job, None).await?;
            attempt.freeze_drained += drained as i64;
            if drained == 0 && backlog(source, record.website, &plan).await? == 0 {
                return Ok(());
            }
        }
    }

    /// Verifying, online: drain again (a resumed attempt may find changes an
    /// earlier one left), then compare every row any change touched.
    pub(crate) async fn verify_frozen(&mut self) -> Result<(), MoveError> {
        self.drain().await?;
        let (source, target) = (self.source, self.target);
        let record = self.record().clone();
        let plan = self.plan().await?;
        let limit_ms = self.engine().freeze_limit_ms;
        let attempt = &mut *self.attempt;
        let mut compared = 0;
        for table in &plan {
            attempt.within_freeze_limit(limit_ms)?;
            let scope = Scope::of(table, &record);
            compared += verify_online::touched(source, target, &scope).await?;
        }
        let applied = record.changes_applied + attempt.freeze_drained;
        attempt.record_catch_up(applied, 0, None).await?;
        info!(
            website_id = %record.website,
            rows_compared = compared,
            changes_drained = attempt.freeze_drained,
            "frozen: changes drained and every changed row verified"
        );
        Ok(())
    }
}

//! Online moves, the freeze: the website's writes are refused on the source
//! (the fence, `SMF01`; applications retry against the shard the registry
//! names), the last captured changes are drained, the rows they touched are
//! verified, and the cutover follows. The freeze is recorded from just before
//! the fence goes up to the registry switch, which ends it. It is bounded
//! whatever happens: past `engine.freeze_limit_ms` with the fence up the mover
//! gives up and thaws (`FreezeOverLimit`), and a mover that died with its fence
//! up has it lifted by the freeze watcher of any worker (`freeze_watch.rs`).

use sqlx::PgPool;
use tracing::info;

use crate::control::{Phase, migrations};
use crate::mover::attempt::Attempt;
use crate::mover::catch_up::backlog;
use crate::mover::error::{Context, MoveError};
use crate::mover::replay::{Replay, replay_batch};
use crate::mover::verify_online::{self, Scope};
use crate::mover::{Mover, fence};

impl Mover {
    /// An online move from its freeze to the registry switch. Any error here
    /// leaves the fence up: the caller thaws (`thaw_after`), unless the
    /// cutover's commit was sent, whose outcome only the control database knows.
    pub(crate) async fn frozen_to_cutover(
        &self,
        attempt: &mut Attempt<'_>,
        source: &PgPool,
        target: &PgPool,
    ) -> Result<(), MoveError> {
        if attempt.record.phase == Phase::Freezing {
            self.freeze(attempt, source, target).await?;
            self.set_phase(attempt, Phase::Verifying).await?;
        }
        self.verify_and_cut_over(attempt, source, target).await
    }

    /// Freezing: fence the website and drain what the change log still holds.
    pub(crate) async fn freeze(
        &self,
        attempt: &mut Attempt<'_>,
        source: &PgPool,
        target: &PgPool,
    ) -> Result<(), MoveError> {
        let record = attempt.record.clone();
        let plan = self.plan(attempt, source, target).await?;
        let mut conn = self.control_conn().await?;
        let budget_ms = self.settings.engine.freeze_budget_ms;
        let started = migrations::start_freeze(&mut conn, record.id, attempt.token, budget_ms)
            .await
            .context(|| "recording the freeze".into())?;
        attempt.owned(started)?;
        drop(conn);
        // Owned on the source too, so the freeze watcher can fence this
        // attempt out of raising once it has taken the move over.
        crate::mover::owner_token::claim(source, record.id, attempt.token).await?;
        let owner = (record.website, record.id, attempt.token);
        fence::raise_owned(source, &record.source, owner, &plan, &self.fence_options()).await?;
        attempt.fenced_at = Some(std::time::Instant::now());
        self.drain(attempt, source, target).await
    }

    /// Replays every change left; with the fence up no new one arrives.
    async fn drain(
        &self,
        attempt: &mut Attempt<'_>,
        source: &PgPool,
        target: &PgPool,
    ) -> Result<(), MoveError> {
        let record = attempt.record.clone();
        let plan = self.plan(attempt, source, target).await?;
        let owned = self.owned_sequences(attempt, target, &plan).await?;
        crate::mover::owner_token::claim(target, record.id, attempt.token).await?;
        let job = Replay::new(&plan, &record, attempt.token, owned);
        let limit_ms = self.settings.engine.freeze_limit_ms;
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
    pub(crate) async fn verify_frozen(
        &self,
        attempt: &mut Attempt<'_>,
        source: &PgPool,
        target: &PgPool,
    ) -> Result<(), MoveError> {
        self.drain(attempt, source, target).await?;
        let record = attempt.record.clone();
        let plan = self.plan(attempt, source, target).await?;
        let mut compared = 0;
        for table in &plan {
            attempt.within_freeze_limit(self.settings.engine.freeze_limit_ms)?;
            let scope = Scope::of(table, &record);
            compared += verify_online::touched(source, target, &scope).await?;
        }
        let applied = record.changes_applied + attempt.freeze_drained;
        self.record_catch_up(attempt, applied, 0, None).await?;
        info!(
            website_id = %record.website,
            rows_compared = compared,
            changes_drained = attempt.freeze_drained,
            "frozen: changes drained and every changed row verified"
        );
        Ok(())
    }
}

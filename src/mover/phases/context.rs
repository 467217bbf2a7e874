//! What every phase works with: the application context, the attempt, and the
//! pools of the move's two shards; and what phases ask of them again and
//! again: the plan (discovered once per attempt), the target's sequences, the
//! engine's settings, and the fence's and capture's changes for this move.

use sqlx::PgPool;

use super::attempt::Attempt;
use crate::app::App;
use crate::config::EngineSettings;
use crate::control::tables;
use crate::domain::{MoveRecord, Phase};
use crate::mover::checks::{plan, schema_notes};
use crate::mover::error::{Context, MoveError};
use crate::mover::mechanics::fence::{self, FenceOptions};
use crate::mover::mechanics::sequences::{self, OwnedSequence};
use crate::tenancy::TenantTable;

/// One attempt's view of its move, handed to each phase in turn.
pub(crate) struct PhaseContext<'c, 'a> {
    pub(crate) app: &'c App,
    pub(crate) attempt: &'c mut Attempt<'a>,
    pub(crate) source: &'c PgPool,
    pub(crate) target: &'c PgPool,
}

impl<'c, 'a> PhaseContext<'c, 'a> {
    pub(crate) fn new(
        app: &'c App,
        attempt: &'c mut Attempt<'a>,
        (source, target): (&'c PgPool, &'c PgPool),
    ) -> Self {
        Self {
            app,
            attempt,
            source,
            target,
        }
    }

    pub(crate) fn record(&self) -> &MoveRecord {
        &self.attempt.record
    }

    /// The phase the move is in (as this attempt recorded or found it).
    pub(crate) fn phase(&self) -> Phase {
        self.attempt.record.phase
    }

    pub(crate) fn engine(&self) -> &'c EngineSettings {
        &self.app.settings.engine
    }

    pub(crate) fn fence_options(&self) -> FenceOptions {
        FenceOptions::of(&self.app.settings)
    }

    /// The copy plan, discovered once per attempt (and re-checked against the target).
    pub(crate) async fn plan(&mut self) -> Result<Vec<TenantTable>, MoveError> {
        if self.attempt.plan.is_none() {
            let plan = plan::discover(self.app, self.source, self.target).await?;
            let views = schema_notes::views_reading(self.source, &plan).await?;
            self.attempt.record_follow_up(&views).await?;
            self.attempt.plan = Some(plan);
        }
        Ok(self.attempt.plan.clone().unwrap_or_default())
    }

    /// The target's sequences owned by each table of `plan`, read once per attempt
    /// (the freeze replays twice; the catalogue is not read again inside it).
    pub(crate) async fn owned_sequences(
        &mut self,
        plan: &[TenantTable],
    ) -> Result<Vec<Vec<OwnedSequence>>, MoveError> {
        if self.attempt.sequences.is_none() {
            let mut owned = Vec::with_capacity(plan.len());
            for table in plan {
                owned.push(sequences::owned(self.target, table).await?);
            }
            self.attempt.sequences = Some(owned);
        }
        Ok(self.attempt.sequences.clone().unwrap_or_default())
    }

    /// The website's rows in each table of `plan`, as preflight counted them.
    pub(crate) async fn planned_rows(&self, plan: &[TenantTable]) -> Result<Vec<i64>, MoveError> {
        let mut conn = self.attempt.control_conn().await?;
        let planned = tables::list(&mut conn, self.record().id)
            .await
            .context(|| "reading the plan".into())?;
        let rows_of = |table: &TenantTable| {
            let name = table.name.to_string();
            planned
                .iter()
                .find(|t| t.name == name)
                .map_or(0, |t| t.rows_total)
        };
        Ok(plan.iter().map(rows_of).collect())
    }

    /// Starts capturing the website's changes on the source.
    pub(crate) async fn capture_changes(&self, plan: &[TenantTable]) -> Result<(), MoveError> {
        let record = self.record();
        let (website, id) = (record.website, record.id);
        let options = self.fence_options();
        fence::capture(self.source, &record.source, website, id, plan, &options).await
    }

    /// Fences the website on the source (an offline move, for its whole copy).
    pub(crate) async fn raise_fence(&self, plan: &[TenantTable]) -> Result<(), MoveError> {
        let record = self.record();
        let (website, id) = (record.website, record.id);
        let options = self.fence_options();
        fence::raise(self.source, &record.source, website, id, plan, &options).await
    }

    /// Fences the website on the source as this attempt (the freeze): refused
    /// once the freeze watcher has taken the move over.
    pub(crate) async fn raise_fence_owned(&self, plan: &[TenantTable]) -> Result<(), MoveError> {
        let record = self.record();
        let owner = (record.website, record.id, self.attempt.token);
        let options = self.fence_options();
        fence::raise_owned(self.source, &record.source, owner, plan, &options).await
    }

    /// Lifts this attempt's fence on the source.
    pub(crate) async fn lift_fence_owned(&self) -> Result<(), MoveError> {
        let record = self.record();
        let owner = (record.website, record.id, self.attempt.token);
        fence::lift_owned(self.source, &record.source, owner, &self.fence_options()).await
    }
}

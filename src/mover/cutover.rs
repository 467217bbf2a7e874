//! Phases 5 and 6: sequences, then the registry flip. After cutover commits,
//! a move only goes forward.

use sqlx::PgPool;
use tracing::info;

use super::error::{Context, MoveError};
use super::run::Attempt;
use super::{Mover, checkpoint, fence, sequences};
use crate::control::{Phase, migrations, registry};

impl Mover {
    /// Sequences, then the registry flip and the phase change in one control
    /// transaction: after it commits the move can only go forward.
    pub(super) async fn cutover(
        &self,
        attempt: &mut Attempt<'_>,
        target: &PgPool,
    ) -> Result<(), MoveError> {
        let record = attempt.record.clone();
        let source = self.shards.get(&record.source).expect("route checked");
        let plan = self.plan(attempt, source, target).await?;
        sequences::advance(
            target,
            &plan,
            &self.settings.tenancy.key_column,
            record.website,
        )
        .await?;
        let mut tx = self
            .control
            .begin()
            .await
            .context(|| "opening the cutover transaction".into())?;
        let tenancy = &self.settings.tenancy;
        let flipped = registry::move_website(
            &mut tx,
            tenancy,
            record.website,
            &record.source,
            &record.target,
        )
        .await
        .context(|| "updating the tenant registry".into())?;
        if !flipped {
            let now = registry::shard_of(&mut tx, tenancy, record.website)
                .await
                .context(|| "reading the registry".into())?;
            if now.as_deref() != Some(record.target.as_str()) {
                return Err(MoveError::SourceChanged {
                    website: record.website,
                    expected: record.source.clone(),
                    actual: now.unwrap_or_default(),
                });
            }
        }
        migrations::set_phase(&mut tx, record.id, Phase::Cleanup)
            .await
            .context(|| "recording cutover".into())?;
        tx.commit().await.context(|| "committing cutover".into())?;
        attempt.record.phase = Phase::Cleanup;
        attempt.tracker.set_phase(Phase::Cleanup);
        info!(website_id = %record.website, target = %record.target, "registry now points at the target");
        // The website lives on the target now: lift any fence an older move left there.
        fence::lift(
            target,
            &record.target,
            record.website,
            None,
            &self.fence_options(),
        )
        .await?;
        checkpoint::clear(target, record.id).await
    }
}

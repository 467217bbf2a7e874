//! The verifying phase of an offline move (every row of every table, fence
//! up), and recording each table's fingerprints on the move, for both modes.

use sqlx::PgPool;

use crate::control::tables;
use crate::mover::attempt::Attempt;
use crate::mover::error::{Context, MoveError};
use crate::mover::{Mover, verify};
use crate::tenancy::TenantTable;

impl Mover {
    pub(crate) async fn verify_all(
        &self,
        attempt: &mut Attempt<'_>,
        source: &PgPool,
        target: &PgPool,
    ) -> Result<(), MoveError> {
        let record = attempt.record.clone();
        let plan = self.plan(attempt, source, target).await?;
        for table in &plan {
            let (src, dst) =
                verify::compare(source, target, table, record.website, record.batch_rows).await?;
            self.record_checksums(attempt, table, &src, &dst).await?;
        }
        crate::mover::references::check(target, &plan, record.website).await
    }

    /// Both sides' fingerprints of a table, recorded on the move.
    pub(crate) async fn record_checksums(
        &self,
        attempt: &mut Attempt<'_>,
        table: &TenantTable,
        src: &verify::Fingerprint,
        dst: &verify::Fingerprint,
    ) -> Result<(), MoveError> {
        let mut conn = self.control_conn().await?;
        let recorded = tables::record_checksums(
            &mut conn,
            attempt.record.id,
            attempt.token,
            &table.name.to_string(),
            &src.display(),
            &dst.display(),
        )
        .await
        .context(|| "recording checksums".into())?;
        attempt.owned(recorded)
    }
}

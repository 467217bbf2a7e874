//! `finalize`: finishes what a move left behind past cutover. A pending
//! cleanup is resumed by the engine (as the API's `finalize` does through a
//! job); the fenced source rows of a `--keep-source` move are deleted, once the
//! registry confirms the website left.

use crate::control::{Status, migrations, registry};
use crate::ids::{MigrationId, WebsiteId};
use crate::mover::error::{Context, MoveError};
use crate::mover::progress::Silent;
use crate::mover::{Mover, delete};

impl Mover {
    /// Returns the move whose source was cleaned and the rows deleted.
    pub async fn finalize(&self, website: WebsiteId) -> Result<(MigrationId, u64), MoveError> {
        let mut conn = self.control_conn().await?;
        let record = migrations::find_unfinalized(&mut conn, website)
            .await
            .context(|| "reading moves".into())?
            .ok_or_else(|| {
                MoveError::CleanupRefused(format!(
                    "website {website} has no move that left source rows behind"
                ))
            })?;
        if record.status == Status::CleanupPending {
            // A fresh retry budget, as `POST .../finalize` gives.
            migrations::resume_cleanup(&mut conn, record.id)
                .await
                .context(|| "resuming the cleanup".into())?;
            drop(conn);
            let outcome = self.run(record.id, &Silent).await?;
            return Ok((record.id, outcome.source_rows_deleted));
        }
        let now = registry::shard_of(&mut conn, &self.settings.tenancy, website)
            .await
            .context(|| "reading the registry".into())?;
        if now.as_deref() == Some(record.source.as_str()) {
            return Err(MoveError::CleanupRefused(format!(
                "the registry says website {website} lives on {}; its rows there are live",
                record.source
            )));
        }
        let source = self.shard_pool(&record.source)?;
        let tables = {
            let mut shard = source
                .acquire()
                .await
                .context(|| "connecting to the source shard".into())?;
            crate::tenancy::order_by_foreign_keys(
                crate::tenancy::discover(&mut shard, &self.settings.tenancy).await?,
            )?
        };
        let deleted = delete::delete_website_rows(
            source,
            &tables,
            website,
            self.settings.engine.delete_batch_rows,
        )
        .await?;
        migrations::mark_finalized(&mut conn, record.id)
            .await
            .context(|| "recording finalize".into())?;
        Ok((record.id, deleted))
    }
}

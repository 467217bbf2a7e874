//! `finalize`: finishes what a move left behind past cutover. A pending
//! cleanup is resumed by the engine (as the API's `finalize` does through a
//! job); the fenced source rows of a `--keep-source` move are deleted, once the
//! registry confirms the website left.

use crate::app::App;
use crate::control::{migrations, registry};
use crate::domain::Status;
use crate::ids::{MoveId, WebsiteId};
use crate::mover::checks::plan::source_tables;
use crate::mover::error::{Context, MoveError};
use crate::mover::mechanics::delete;
use crate::mover::mechanics::routes::{control_conn, shard_pool};

/// What `finalize` did.
pub(crate) enum Finalized {
    /// The move's pending cleanup may run again, with a fresh retry budget:
    /// the engine runs it now.
    CleanupResumed(MoveId),
    /// A `--keep-source` move's source rows deleted: how many.
    SourceDeleted(MoveId, u64),
}

pub(crate) async fn finalize(app: &App, website: WebsiteId) -> Result<Finalized, MoveError> {
    let mut conn = control_conn(app).await?;
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
        return Ok(Finalized::CleanupResumed(record.id));
    }
    let now = registry::shard_of(&mut conn, &app.settings.tenancy, website)
        .await
        .context(|| "reading the registry".into())?;
    if now.as_deref() == Some(record.source.as_str()) {
        return Err(MoveError::CleanupRefused(format!(
            "the registry says website {website} lives on {}; its rows there are live",
            record.source
        )));
    }
    let source = shard_pool(app, &record.source)?;
    let tables = source_tables(app, source).await?;
    let deleted = delete::delete_website_rows(
        source,
        &tables,
        website,
        app.settings.engine.delete_batch_rows,
    )
    .await?;
    migrations::mark_finalized(&mut conn, record.id)
        .await
        .context(|| "recording finalize".into())?;
    Ok(Finalized::SourceDeleted(record.id, deleted))
}

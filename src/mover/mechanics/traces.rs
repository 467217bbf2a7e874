//! What a move keeps on its shards while it runs, beside the fence, and the
//! fence's triggers: both go at the move's end, whether cleanup or rollback.

use sqlx::PgPool;

use super::copy::checkpoint;
use super::fence::{self, FenceOptions};
use super::routes::shard_pool;
use crate::app::App;
use crate::domain::MoveRecord;
use crate::mover::error::MoveError;

/// The copy's checkpoints and the keys catch-up touched on the target, and an
/// online move's change capture on the source. Each part does nothing when
/// absent.
pub(crate) async fn forget(
    record: &MoveRecord,
    (source, target): (&PgPool, &PgPool),
    options: &FenceOptions,
) -> Result<(), MoveError> {
    checkpoint::clear(target, record.id).await?;
    checkpoint::clear_touched(target, record.id).await?;
    checkpoint::clear_owner(target, record.id).await?;
    fence::release(
        source,
        &record.source,
        record.website,
        Some(record.id),
        options,
    )
    .await
}

/// The triggers that no move needs any longer, dropped on both the move's
/// shards as far as lock holders allow: what is left stays `WHEN (false)`
/// until a later move's end.
pub(crate) async fn drop_unused_triggers(app: &App, record: &MoveRecord) {
    let options = FenceOptions::of(&app.settings);
    for shard in [&record.source, &record.target] {
        if let Ok(pool) = shard_pool(app, shard) {
            fence::drop_unused(pool, shard, &options).await;
        }
    }
}

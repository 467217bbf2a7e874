//! What operators and the workers' housekeeping ask of the engine beside
//! running moves: the fences on a shard and a manual lift (`fences.rs`),
//! finishing what a move left past cutover (`finalize.rs`), lifting a freeze
//! whose mover is gone (`freeze_expiry.rs`), which shard is away after a
//! failure (`outage.rs`), and change capture alone for the benchmark.

pub(crate) mod fences;
mod finalize;
mod freeze_expiry;
mod outage;

use sqlx::PgPool;

use super::Mover;
use super::error::MoveError;
use super::mechanics::fence::{self, FenceOptions};
use super::progress::Silent;
use crate::ids::{MoveId, ShardName, WebsiteId};
use crate::tenancy::TenantTable;
use fences::{FenceEntry, LiftRefused};
use finalize::Finalized;

impl Mover {
    /// Every fence on `shard`, oldest first.
    pub async fn fences_on(&self, shard: &ShardName) -> Result<Vec<FenceEntry>, MoveError> {
        fences::on(&self.app, shard).await
    }

    /// Lifts `website`'s fence on `shard` by hand (see `fences::lift`).
    pub async fn lift_fence(
        &self,
        shard: &ShardName,
        website: WebsiteId,
        stale: bool,
    ) -> Result<(), LiftRefused> {
        fences::lift(&self.app, shard, website, stale).await
    }

    /// Finishes what a move of `website` left past cutover; returns the move
    /// whose source was cleaned and the rows deleted.
    pub async fn finalize(&self, website: WebsiteId) -> Result<(MoveId, u64), MoveError> {
        match finalize::finalize(&self.app, website).await? {
            Finalized::CleanupResumed(id) => {
                let outcome = self.run(id, &Silent).await?;
                Ok((id, outcome.source_rows_deleted))
            }
            Finalized::SourceDeleted(id, deleted) => Ok((id, deleted)),
        }
    }

    /// Lifts the fence of every freeze whose mover is gone; returns how many.
    pub async fn expire_abandoned_freezes(&self) -> Result<usize, MoveError> {
        freeze_expiry::expire_abandoned(&self.app).await
    }

    /// The first of the website's current shard and `target` that does not
    /// answer within the probe timeout, if any.
    pub async fn unavailable_shard(
        &self,
        website: WebsiteId,
        target: &ShardName,
    ) -> Option<ShardName> {
        outage::unavailable_shard(&self.app, website, target).await
    }

    /// Starts (`on`) or stops capturing `website`'s changes on a shard exactly
    /// as an online move does, outside any move: the benchmark measures what
    /// capture costs the website's writes.
    pub(crate) async fn set_capture(
        &self,
        (pool, shard): (&PgPool, &ShardName),
        website: WebsiteId,
        migration: MoveId,
        tables: &[TenantTable],
        on: bool,
    ) -> Result<(), MoveError> {
        let options = FenceOptions::of(&self.app.settings);
        if on {
            fence::capture(pool, shard, website, migration, tables, &options).await
        } else {
            fence::release(pool, shard, website, Some(migration), &options).await
        }
    }
}

//! Operators' view of the fences: which websites each shard refuses, and a
//! manual lift for the one case that needs a person — a website fenced on the
//! shard it lives on (see `docs/runbook.md`).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::app::App;
use crate::control::migrations;
use crate::ids::{MoveId, ShardName, WebsiteId};
use crate::mover::error::{Context, MoveError};
use crate::mover::mechanics::fence::{self, FenceOptions};
use crate::mover::mechanics::routes::{control_conn, current_shard};

#[derive(Debug, Clone, Serialize)]
pub struct FenceEntry {
    pub shard: ShardName,
    pub website_id: i64,
    pub migration_id: i64,
    pub since: DateTime<Utc>,
    /// The registry names this shard: every write of the website is refused
    /// where it lives, which only a crash mid-move should ever leave behind.
    pub fenced_where_it_lives: bool,
}

/// Why a manual lift was refused.
#[derive(Debug, thiserror::Error)]
pub enum LiftRefused {
    #[error("move {0} of this website is unfinished; let it end or cancel it")]
    MoveActive(MoveId),
    #[error(
        "website {website} lives on {lives_on}, not {shard}: this fence refuses stale writes to the old shard; pass --stale to drop it anyway"
    )]
    Stale {
        website: WebsiteId,
        shard: ShardName,
        lives_on: ShardName,
    },
    #[error(transparent)]
    Move(#[from] MoveError),
}

/// Every fence on `shard`, oldest first.
pub(crate) async fn on(app: &App, shard: &ShardName) -> Result<Vec<FenceEntry>, MoveError> {
    let pool = app
        .shards
        .reads(shard)
        .ok_or_else(|| MoveError::UnknownShard(shard.to_string()))?;
    let present: bool =
        sqlx::query_scalar("SELECT to_regclass('shardmover.fenced_websites') IS NOT NULL")
            .fetch_one(pool)
            .await
            .context(|| format!("reading the fences of {shard}"))?;
    if !present {
        return Ok(Vec::new());
    }
    let rows: Vec<(i64, i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT website_id, migration_id, updated_at FROM shardmover.fenced_websites
          ORDER BY updated_at, website_id",
    )
    .fetch_all(pool)
    .await
    .context(|| format!("reading the fences of {shard}"))?;
    let mut fences = Vec::with_capacity(rows.len());
    for (website_id, migration_id, since) in rows {
        let lives_on = match WebsiteId::new(website_id) {
            Ok(website) => current_shard(app, website).await.ok(),
            Err(_) => None,
        };
        fences.push(FenceEntry {
            shard: shard.clone(),
            website_id,
            migration_id,
            since,
            fenced_where_it_lives: lives_on.as_ref() == Some(shard),
        });
    }
    Ok(fences)
}

/// Lifts `website`'s fence on `shard` by hand: at once where the website
/// lives; on an old shard only with `stale` (stale writers could then land
/// rows there that nobody reads); never while a move of it is unfinished.
/// The last fence lifted, the triggers go too when no lock holder is in the way.
pub(crate) async fn lift(
    app: &App,
    shard: &ShardName,
    website: WebsiteId,
    stale: bool,
) -> Result<(), LiftRefused> {
    let active = migrations::find_active(&mut *control_conn(app).await?, website)
        .await
        .context(|| "reading the active move".into())?;
    if let Some(active) = active {
        return Err(LiftRefused::MoveActive(active.id));
    }
    let lives_on = current_shard(app, website).await?;
    if &lives_on != shard && !stale {
        return Err(LiftRefused::Stale {
            website,
            shard: shard.clone(),
            lives_on,
        });
    }
    let pool = app
        .shards
        .reads(shard)
        .ok_or_else(|| MoveError::UnknownShard(shard.to_string()))?;
    let options = FenceOptions::of(&app.settings);
    fence::lift(pool, shard, website, None, &options).await?;
    fence::drop_unused(pool, shard, &options).await;
    tracing::warn!(website_id = %website, shard = %shard, "fence lifted by hand");
    Ok(())
}

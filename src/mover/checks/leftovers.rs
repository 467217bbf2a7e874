//! What a crash or a manual intervention may have left on a shard and no
//! running move will clean up: a website still captured (its changes recorded
//! for nothing) for a move that has ended. Preflight lists them; they never
//! block a move (a new move of that website replaces its capture).

use sqlx::PgPool;

use crate::app::App;
use crate::control::migrations;
use crate::ids::ShardName;
use crate::mover::error::{Context, MoveError};
use crate::mover::mechanics::routes::control_conn;

/// One readable line per leftover capture on `shard`.
pub(crate) async fn captures(
    app: &App,
    shard: &ShardName,
    pool: &PgPool,
) -> Result<Vec<String>, MoveError> {
    let present: bool =
        sqlx::query_scalar("SELECT to_regclass('shardmover.captured_websites') IS NOT NULL")
            .fetch_one(pool)
            .await
            .context(|| format!("looking for change capture on {shard}"))?;
    if !present {
        return Ok(Vec::new());
    }
    let captured: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT w.website_id, w.migration_id,
                (SELECT count(*) FROM shardmover.changes c WHERE c.website_id = w.website_id)
           FROM shardmover.captured_websites w ORDER BY w.website_id",
    )
    .fetch_all(pool)
    .await
    .context(|| format!("reading change capture on {shard}"))?;
    if captured.is_empty() {
        return Ok(Vec::new());
    }
    let migrations: Vec<i64> = captured.iter().map(|(_, m, _)| *m).collect();
    let ended = migrations::ended_among(&mut *control_conn(app).await?, &migrations)
        .await
        .context(|| "reading the moves that captured changes".into())?;
    Ok(captured
        .into_iter()
        .filter_map(|(website, migration, changes)| {
            let (_, status) = ended.iter().find(|(id, _)| id.get() == migration)?;
            Some(format!(
                "{shard} still captures website {website}'s changes ({changes} logged) for move \
                 {migration}, which is {status}: a crashed rollback or cleanup left it; resuming \
                 or finalizing that move, or moving website {website} again, removes it"
            ))
        })
        .collect())
}

//! Start-up: builds the application context once, for every entry point (the
//! CLI's commands, `serve`, `api`, `worker`, the tests' app), and the move
//! engine over it. What a long-running process then runs on it is `service`.

use std::sync::Arc;

use anyhow::Context;
use sqlx::PgPool;

use crate::app::App;
use crate::config::Settings;
use crate::db;
use crate::mover::Mover;
use crate::shard_ops::ShardOps;

/// Connects to the control database, brings its schema up to date and seeds
/// the shard catalogue: the one context the API, the workers and the CLI share.
pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let location = db::describe(&db::control_options(&settings));
    let control = db::control_pool(&settings)
        .await
        .with_context(|| format!("cannot connect to the control database at {location}"))?;
    build_on(settings, control).await
}

/// `build` over a control pool already connected (a test's own database).
pub async fn build_on(settings: Settings, control: PgPool) -> anyhow::Result<App> {
    let location = db::describe(&db::control_options(&settings));
    migrate(&control).await.with_context(|| {
        format!("cannot apply migrations to the control database at {location}")
    })?;
    let app = App::new(Arc::new(settings), control);
    // Configured shards missing from the catalogue are added; run-time changes stay.
    ShardOps::new(&app)
        .seed()
        .await
        .with_context(|| format!("cannot seed the shard catalogue at {location}"))?;
    Ok(app)
}

/// The move engine over `app`, telling each move's end to the notices (the
/// outbox and its delivery jobs): the one way every entry point builds it.
pub fn mover(app: App) -> Mover {
    let notices = Arc::new(crate::jobs::MailNotices::new(app.settings.clone()));
    Mover::new(app, notices)
}

/// Applies the control database's migrations: ours (schema `shardmover`) and
/// the job queue's (schema `apalis`); each keeps its own migrations table.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    db::MIGRATOR.run(pool).await?;
    crate::jobs::setup(pool).await?;
    Ok(())
}

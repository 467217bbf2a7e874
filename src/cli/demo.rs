//! `shardmover demo`: a guided tour on a local Postgres. Creates a control
//! database and two shards, seeds a tenant, moves it and shows the fence.

use std::sync::Arc;

use clap::Args;
use secrecy::ExposeSecret;

use super::output::progress_bar::TerminalProgress;
use super::output::report;
use crate::cli::samples::scratch::{Server, settings_with};
use crate::cli::samples::{self, tenant::Scale};
use crate::config::Settings;
use crate::control::notifications;
use crate::domain::MoveRequest;
use crate::ids::{EmailAddress, ShardName, WebsiteId};
use crate::mail::{Delivery, Notifier};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Rows of the tenant that moves.
    #[arg(long, default_value_t = 300_000)]
    pub rows: i64,
}

const CONTROL: &str = "shardmover_demo_control";
/// Who asks for the demo's move: the notice goes to this address.
const DEMO_ADMIN: &str = "admin@example.com";
const SHARDS: [&str; 2] = ["shardmover_demo_shard_1", "shardmover_demo_shard_2"];

pub async fn run(base: Settings, args: DemoArgs) -> anyhow::Result<()> {
    let server = Server::from_url(&base.database.url)?;
    println!(
        "1. creating databases {CONTROL}, {} and {} on the server of database.url",
        SHARDS[0], SHARDS[1]
    );
    let control_url = server.recreate(CONTROL).await?;
    let shard_urls = [
        server.recreate(SHARDS[0]).await?,
        server.recreate(SHARDS[1]).await?,
    ];
    let settings = settings_with(
        &base,
        control_url,
        &[
            ("shard_1", shard_urls[0].clone()),
            ("shard_2", shard_urls[1].clone()),
        ],
    );

    let control = crate::db::control_pool(&settings).await?;
    crate::startup::migrate(&control).await?;
    samples::tenant::create_registry(&control).await?;
    let shards = [pool(&shard_urls[0]).await?, pool(&shard_urls[1]).await?];
    for shard in &shards {
        samples::tenant::create_shard_schema(shard).await?;
    }
    let (tenant, neighbour, other) = (
        WebsiteId::new(1).expect("positive"),
        WebsiteId::new(2).expect("positive"),
        WebsiteId::new(3).expect("positive"),
    );
    let scale = Scale::total_rows(args.rows);
    println!(
        "2. seeding website {tenant} on shard_1 ({} rows), website {neighbour} beside it and website {other} on shard_2",
        scale.rows()
    );
    samples::tenant::seed(&shards[0], tenant, scale).await?;
    samples::tenant::seed(&shards[0], neighbour, Scale::total_rows(1_000)).await?;
    samples::tenant::seed(&shards[1], other, Scale::total_rows(1_000)).await?;
    samples::tenant::register(&control, tenant, "shard_1").await?;
    samples::tenant::register(&control, neighbour, "shard_1").await?;
    samples::tenant::register(&control, other, "shard_2").await?;

    let settings = Arc::new(settings);
    let mover = crate::startup::mover(crate::app::App::new(settings.clone(), control.clone()));
    let target = ShardName::parse("shard_2").expect("valid");
    println!("3. preflight (what `shardmover migrate --dry-run` prints):");
    report::print_preflight(&mover.preflight(tenant, &target).await?);

    println!("4. moving website {tenant} to shard_2: fence, copy, verify, cutover, cleanup");
    let request = MoveRequest {
        website: tenant,
        target,
        keep_source: false,
        batch_rows: None,
        requested_by: EmailAddress::parse(DEMO_ADMIN).ok(),
        notes: None,
        mode: Default::default(),
    };
    let record = mover.request(&request).await?;
    let progress = TerminalProgress::new();
    let outcome = mover.run(record.id, &progress).await;
    progress.finish();
    let outcome = outcome?;
    report::print_outcome(&outcome);
    let rows = outcome.tables.iter().map(|t| t.rows_copied).sum::<i64>();
    let secs = outcome.timings.copy.as_secs_f64().max(0.001);
    println!("   copied {rows} rows at {:.0} rows/s", rows as f64 / secs);

    println!("5. what the shards say now:");
    show_the_shards(&control, &shards, tenant).await?;
    println!("6. the notice to {DEMO_ADMIN}:");
    mail_the_notice(&control, settings, outcome.record.id).await?;
    println!("done. The databases stay for you to look at; `shardmover demo` again starts afresh.");
    Ok(())
}

/// The registry's answer, each shard's orders per website, and a stale write
/// to the moved website refused by the fence on its old shard.
async fn show_the_shards(
    control: &sqlx::PgPool,
    shards: &[sqlx::PgPool; 2],
    tenant: WebsiteId,
) -> anyhow::Result<()> {
    let registry: String = sqlx::query_scalar("SELECT shard_name FROM pwb_websites WHERE id = $1")
        .bind(tenant.get())
        .fetch_one(control)
        .await?;
    println!("   registry: website {tenant} -> {registry}");
    for (name, shard) in ["shard_1", "shard_2"].iter().zip(shards) {
        let counts: Vec<(i64, i64)> =
            sqlx::query_as("SELECT website_id, count(*) FROM orders GROUP BY 1 ORDER BY 1")
                .fetch_all(shard)
                .await?;
        println!("   {name} orders per website: {counts:?}");
    }
    let refused = sqlx::query(
        "INSERT INTO website_settings (website_id, key) VALUES ($1, 'stale-cache-write')",
    )
    .bind(tenant.get())
    .execute(&shards[0])
    .await;
    match refused {
        Err(e) => println!(
            "   a stale write to website {tenant} on shard_1 is refused ({}): {}",
            e.as_database_error()
                .and_then(|db| db.code())
                .unwrap_or_default(),
            crate::db::error_message(&e)
        ),
        Ok(_) => anyhow::bail!("the fence let a stale write through"),
    }
    Ok(())
}

async fn pool(url: &secrecy::SecretString) -> anyhow::Result<sqlx::PgPool> {
    Ok(sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(url.expose_secret())
        .await?)
}

/// Delivers the move's notice now, as a worker would, and says where it went.
async fn mail_the_notice(
    control: &sqlx::PgPool,
    settings: Arc<Settings>,
    id: crate::ids::MoveId,
) -> anyhow::Result<()> {
    let Some(notifier) = Notifier::new(control.clone(), settings)? else {
        println!("   mail is off (mail.smtp_host is empty): no notice was recorded");
        return Ok(());
    };
    let mut conn = control.acquire().await?;
    for notice in notifications::list_for_migration(&mut conn, id).await? {
        let to = &notice.recipient;
        let server = notifier.mailer().server();
        match crate::jobs::deliver(&notifier, notice.id).await? {
            Delivery::Sent => println!(
                "   mailed to {to} through SMTP {server}; with Mailpit from docker-compose.yml, read it at http://localhost:8025"
            ),
            Delivery::Retrying { error, .. } => println!(
                "   not mailed yet ({error}); it waits in the outbox and `shardmover worker` retries it (start Mailpit with `docker compose up -d mailpit`)"
            ),
            Delivery::GaveUp { error } => println!("   SMTP refused it for good: {error}"),
            Delivery::Skipped => println!("   already sent"),
        }
    }
    Ok(())
}

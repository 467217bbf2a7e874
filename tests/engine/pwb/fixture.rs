//! The PropertyWebBuilder fixture (tests/fixtures/pwb/) on a fresh `TestEnv`:
//! its schema and seed functions on both shards, its tenancy settings loaded as
//! the service loads a configuration file, and the README's table of how each
//! table's rows are found.

use std::path::Path;

use shardmover::cli::samples::scratch::Server;
use shardmover::config::Settings;
use shardmover::tenancy::Ownership;

use crate::helpers::{APP_ROLE, TestEnv, server_url, website};

const SCHEMA: &str = include_str!("../../fixtures/pwb/schema.sql");
const SEED: &str = include_str!("../../fixtures/pwb/seed.sql");
const TENANCY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/pwb/tenancy.toml"
);

/// Tables found by their own `website_id` (the README's "`website_id`" rows).
pub const KEYED: [&str; 39] = [
    "ahoy_events",
    "ahoy_visits",
    "pwb_access_codes",
    "pwb_agencies",
    "pwb_ai_generation_requests",
    "pwb_ai_writing_rules",
    "pwb_auth_audit_logs",
    "pwb_contacts",
    "pwb_contents",
    "pwb_email_templates",
    "pwb_game_estimates",
    "pwb_game_sessions",
    "pwb_links",
    "pwb_listing_videos",
    "pwb_market_reports",
    "pwb_media",
    "pwb_media_folders",
    "pwb_messages",
    "pwb_page_contents",
    "pwb_page_parts",
    "pwb_pages",
    "pwb_price_guesses",
    "pwb_props",
    "pwb_realty_assets",
    "pwb_realty_games",
    "pwb_saved_properties",
    "pwb_saved_searches",
    "pwb_scraped_properties",
    "pwb_search_filter_options",
    "pwb_social_media_posts",
    "pwb_social_media_templates",
    "pwb_subscriptions",
    "pwb_support_tickets",
    "pwb_testimonials",
    "pwb_ticket_messages",
    "pwb_user_memberships",
    "pwb_website_integrations",
    "pwb_website_photos",
    "pwb_widget_configs",
];

/// Tables reached only through parents, with every path the README names, as
/// `path_text` writes them (`fk` marks a declared foreign key).
pub const THROUGH_PARENTS: [(&str, &[&str]); 14] = [
    (
        "pwb_addresses",
        &[
            "id → pwb_agencies(primary_address_id).website_id",
            "id → pwb_agencies(secondary_address_id).website_id",
            "id → pwb_contacts(primary_address_id).website_id",
            "id → pwb_contacts(secondary_address_id).website_id",
        ],
    ),
    (
        "pwb_content_photos",
        &["content_id → pwb_contents(id).website_id"],
    ),
    (
        "pwb_content_translations",
        &["content_id → pwb_contents(id).website_id"],
    ),
    (
        "pwb_features",
        &[
            "realty_asset_id →fk pwb_realty_assets(id).website_id",
            "prop_id → pwb_props(id).website_id",
        ],
    ),
    (
        "pwb_game_listings",
        &[
            "realty_asset_id →fk pwb_realty_assets(id).website_id",
            "realty_game_id →fk pwb_realty_games(id).website_id",
        ],
    ),
    (
        "pwb_link_translations",
        &["link_id → pwb_links(id).website_id"],
    ),
    (
        "pwb_page_translations",
        &["page_id → pwb_pages(id).website_id"],
    ),
    (
        "pwb_prop_photos",
        &[
            "realty_asset_id →fk pwb_realty_assets(id).website_id",
            "prop_id → pwb_props(id).website_id",
        ],
    ),
    (
        "pwb_prop_translations",
        &[
            "realty_asset_id →fk pwb_realty_assets(id).website_id",
            "prop_id → pwb_props(id).website_id",
        ],
    ),
    (
        "pwb_rental_listings",
        &["realty_asset_id →fk pwb_realty_assets(id).website_id"],
    ),
    (
        "pwb_sale_listings",
        &["realty_asset_id →fk pwb_realty_assets(id).website_id"],
    ),
    (
        "pwb_search_alerts",
        &["saved_search_id →fk pwb_saved_searches(id).website_id"],
    ),
    (
        "pwb_spp_listings",
        &["realty_asset_id →fk pwb_realty_assets(id).website_id"],
    ),
    (
        "pwb_subscription_events",
        &["subscription_id →fk pwb_subscriptions(id).website_id"],
    ),
];

/// The registry, the excluded tables and the global ones: never in a plan.
pub const LEFT_ALONE: [&str; 24] = [
    "pwb_websites",
    "pwb_users",
    "pwb_subdomains",
    "pwb_shard_audit_logs",
    "active_storage_attachments",
    "active_storage_blobs",
    "active_storage_variant_records",
    "pwb_authorizations",
    "pwb_client_themes",
    "pwb_clients",
    "pwb_plans",
    "pwb_tenant_settings",
    "solid_queue_blocked_executions",
    "solid_queue_claimed_executions",
    "solid_queue_failed_executions",
    "solid_queue_jobs",
    "solid_queue_pauses",
    "solid_queue_processes",
    "solid_queue_ready_executions",
    "solid_queue_recurring_executions",
    "solid_queue_recurring_tasks",
    "solid_queue_scheduled_executions",
    "solid_queue_semaphores",
    "translations",
];

/// Both shards with the fixture's schema and seed functions (the sample tables
/// dropped: the fixture's plan is the whole plan), the globals of websites 11
/// and 12 on both, websites 11 and 12 seeded on shard_1 and registered there,
/// and the fixture's tenancy settings in `env.settings`.
pub async fn pwb_env() -> TestEnv {
    let mut env = TestEnv::new().await;
    // Loaded as `shardmover --config` loads a file: a key no setting reads is refused.
    env.settings.tenancy = Settings::load(Some(Path::new(TENANCY)))
        .expect("the fixture's tenancy.toml is a valid configuration")
        .tenancy;
    let server = Server::from_url(&server_url()).unwrap();
    for pool in [&env.shard_1, &env.shard_2] {
        // schema.sql creates pgcrypto (trusted) as the database owner would:
        // that takes CREATE on the database, which TestEnv's app role lacks.
        let name: String = sqlx::query_scalar("SELECT current_database()::text")
            .fetch_one(pool)
            .await
            .unwrap();
        server
            .run_as_admin(
                &name,
                &[format!("GRANT CREATE ON DATABASE \"{name}\" TO {APP_ROLE}")],
            )
            .await
            .unwrap();
        sqlx::raw_sql("DROP TABLE orders, products, page_parts, pages, website_settings")
            .execute(pool)
            .await
            .unwrap();
        sqlx::raw_sql(SCHEMA).execute(pool).await.unwrap();
        sqlx::raw_sql(SEED).execute(pool).await.unwrap();
        sqlx::raw_sql("SELECT pwb_seed_globals(11); SELECT pwb_seed_globals(12)")
            .execute(pool)
            .await
            .unwrap();
    }
    sqlx::raw_sql(
        "SELECT pwb_seed_website(11); SELECT pwb_seed_website(12);
         REFRESH MATERIALIZED VIEW pwb_properties",
    )
    .execute(&env.shard_1)
    .await
    .unwrap();
    for id in [11, 12] {
        shardmover::cli::samples::tenant::register(&env.app_control, website(id), "shard_1")
            .await
            .unwrap();
    }
    env
}

/// Every path of `owner`, as `THROUGH_PARENTS` writes them.
pub fn path_text(owner: &Ownership) -> Vec<String> {
    owner
        .paths()
        .iter()
        .map(|path| {
            let hops: Vec<String> = path
                .hops
                .iter()
                .map(|hop| {
                    let declared = if hop.constraint.is_some() { "fk" } else { "" };
                    format!(
                        "{} →{declared} {}({})",
                        hop.columns.join(", "),
                        hop.parent.name,
                        hop.parent_columns.join(", ")
                    )
                })
                .collect();
            format!("{}.{}", hops.join(" "), path.column)
        })
        .collect()
}

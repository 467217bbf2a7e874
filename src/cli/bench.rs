//! The benchmarks, apart from the product's code: `shardmover bench` (the
//! engine against a raw COPY pipe, online moves under write load, the fence's
//! and change capture's costs, a move's neighbours), `bench-api`,
//! `bench-dashboard` and `bench-fleet`, each over scratch databases it creates
//! and drops (`cli/samples/`), and the parts they share.

pub(super) mod api;
mod app_role;
mod capture;
pub(super) mod dashboard;
pub(super) mod engine;
mod fence;
pub(super) mod fleet;
mod idle;
pub mod model;
mod move_print;
mod neighbours;
mod online;
mod raw;
mod small;
mod wide;
mod writer;

use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;

/// A small pool on one of a bench's databases.
async fn pool(url: &SecretString) -> anyhow::Result<PgPool> {
    // Sockets set up as the engine's are, so the raw pipe pays no delay the
    // engine does not.
    Ok(crate::db::pool_options()
        .max_connections(4)
        .connect(url.expose_secret())
        .await?)
}

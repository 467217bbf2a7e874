//! The HTTP API (actix-web): move requests, progress, cancel and the audit log
//! under `/api/v1` (bearer token), shard operations, rebalance plans, `/metrics` (same token),
//! plus open `/health` and `/ready`.

mod access;
mod audit_logs;
mod auth;
mod error;
mod finalize;
mod freeze_view;
mod health;
mod idempotency;
mod metrics;
mod migration_view;
mod migrations;
mod openapi;
mod rebalances;
mod request_id;
mod shards;
mod websites;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};

pub use error::ApiError;
pub use openapi::ApiDoc;

use crate::jobs::worker::Workers;
use crate::mover::Mover;

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// This process's context: settings, control pool, shard pools.
    pub app: crate::app::App,
    /// The workers running in this process (`serve`), shown by `/ready` and `/metrics`.
    pub workers: Option<Arc<Workers>>,
}

impl AppState {
    /// The move engine over this process's context.
    pub fn mover(&self) -> Mover {
        crate::startup::mover(self.app.clone())
    }
}

async fn no_such_route() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found("not_found", "no such route"))
}

/// Builds the server on an already bound listener (port 0 in tests).
pub fn server(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let dashboard = crate::dashboard::Dashboard::new(state.app.clone());
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .configure(|cfg| dashboard.mount(cfg))
            .wrap(actix_web::middleware::from_fn(request_id::assign))
            .app_data(data.clone())
            .app_data(
                web::JsonConfig::default()
                    .error_handler(|e, _| ApiError::bad_request(e.to_string()).into()),
            )
            .app_data(
                web::PathConfig::default()
                    .error_handler(|e, _| ApiError::bad_request(e.to_string()).into()),
            )
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| ApiError::bad_request(e.to_string()).into()),
            )
            .route("/health", web::get().to(health::health))
            .route("/ready", web::get().to(health::ready))
            .route("/metrics", web::get().to(metrics::metrics))
            .service(
                web::scope("/api/v1")
                    .wrap(actix_web::middleware::from_fn(auth::require_token))
                    .route("/migrations", web::post().to(migrations::create))
                    .route("/migrations", web::get().to(migrations::list))
                    .route("/migrations/{id}", web::get().to(migrations::show))
                    .route(
                        "/migrations/{id}/cancel",
                        web::post().to(migrations::cancel),
                    )
                    .route(
                        "/migrations/{id}/finalize",
                        web::post().to(finalize::finalize),
                    )
                    .route("/audit-logs", web::get().to(audit_logs::list))
                    .route("/rebalances", web::post().to(rebalances::create))
                    .route("/rebalances", web::get().to(rebalances::list))
                    .route("/rebalances/{id}", web::get().to(rebalances::show))
                    .route(
                        "/rebalances/{id}/{command}",
                        web::post().to(rebalances::command),
                    )
                    // Fixed paths before `/shards/{name}`, which would match them too.
                    .route("/shards", web::get().to(shards::list))
                    .route("/shards/health", web::get().to(shards::health))
                    .route("/shards/distribution", web::get().to(shards::distribution))
                    .route("/shards/recommended", web::get().to(shards::recommended))
                    .route("/shards/{name}", web::get().to(shards::show))
                    .route("/shards/{name}", web::patch().to(shards::update))
                    .route("/shards/{name}/health", web::get().to(shards::shard_health))
                    .route(
                        "/shards/{name}/statistics",
                        web::get().to(shards::statistics),
                    )
                    .route(
                        "/websites/bulk-assign",
                        web::post().to(websites::bulk_assign),
                    )
                    .route("/websites/{id}", web::get().to(websites::show))
                    .route("/websites/{id}/shard", web::put().to(websites::assign))
                    .route("/openapi.json", web::get().to(openapi::document))
                    .default_service(web::to(no_such_route)),
            )
            .default_service(web::to(no_such_route))
    })
    .shutdown_timeout(30)
    .listen(listener)?
    .run();
    Ok(server)
}

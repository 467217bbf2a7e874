//! The operator dashboard under `/ui`: server-rendered pages (minijinja
//! templates compiled into the binary) over the same library calls the API
//! makes, a signed session cookie from the API token, a CSRF token on every
//! form, and one small vendored script that polls a move's or a plan's live
//! fragment.

mod access;
mod assets;
mod audit;
mod data_state;
mod error;
mod move_actions;
mod move_live;
mod move_page;
mod moves;
mod overview;
mod rebalance_actions;
mod rebalance_form;
mod rebalance_page;
mod rebalance_start;
mod rebalances;
mod render;
mod session;
mod session_guard;
mod shard;
mod sign_in;
mod sign_in_limit;
mod website;
mod website_move;

use std::sync::Arc;

use actix_web::{HttpResponse, web};

use crate::app::App;

use crate::mover::Mover;

pub(crate) use error::PageError;
pub(crate) use session::Session;

/// Everything a dashboard request needs; cheap to clone.
#[derive(Clone)]
pub struct Dashboard {
    app: App,
    /// Shared by the server's worker threads: one budget per client per process.
    sign_ins: Arc<sign_in_limit::SignInLimiter>,
}

impl Dashboard {
    pub fn new(app: App) -> Self {
        Self {
            app,
            sign_ins: Arc::default(),
        }
    }

    /// The move engine over this process's context.
    fn mover(&self) -> Mover {
        crate::startup::mover(self.app.clone())
    }

    /// Registers `/` (a redirect) and every `/ui` route on an app.
    pub fn mount(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::new(self.clone()))
            .route("/", web::get().to(|| async { see_other("/ui") }))
            .service(routes());
    }
}

fn routes() -> impl actix_web::dev::HttpServiceFactory {
    web::scope("/ui")
        .app_data(web::FormConfig::default().error_handler(|e, _| PageError::bad_request(e).into()))
        .app_data(
            web::QueryConfig::default().error_handler(|e, _| PageError::bad_request(e).into()),
        )
        .app_data(web::PathConfig::default().error_handler(|e, _| PageError::bad_request(e).into()))
        .wrap(actix_web::middleware::from_fn(render::security_headers))
        .route("", web::get().to(overview::page))
        .route("/static/{name}", web::get().to(assets::serve))
        .route("/sign-in", web::get().to(sign_in::form))
        .route("/sign-in", web::post().to(sign_in::submit))
        .route("/sign-out", web::post().to(sign_in::sign_out))
        .route("/search", web::get().to(website::search))
        .route("/moves", web::get().to(moves::page))
        .route("/moves/{id}", web::get().to(move_page::page))
        .route("/moves/{id}/live", web::get().to(move_live::fragment))
        .route("/moves/{id}/cancel", web::post().to(move_actions::cancel))
        .route(
            "/moves/{id}/finalize",
            web::post().to(move_actions::finalize),
        )
        .route("/websites/{id}", web::get().to(website::page))
        .route(
            "/websites/{id}/preview",
            web::post().to(website_move::preview),
        )
        .route("/websites/{id}/move", web::post().to(website_move::start))
        .route("/rebalances", web::get().to(rebalances::page))
        .route(
            "/rebalances/preview",
            web::post().to(rebalance_start::preview),
        )
        .route("/rebalances/start", web::post().to(rebalance_start::start))
        .route("/rebalances/{id}", web::get().to(rebalance_page::page))
        .route(
            "/rebalances/{id}/live",
            web::get().to(rebalance_page::fragment),
        )
        .route(
            "/rebalances/{id}/{command}",
            web::post().to(rebalance_actions::command),
        )
        .route("/shards/{name}", web::get().to(shard::page))
        .route("/shards/{name}", web::post().to(shard::change))
        .route("/audit", web::get().to(audit::page))
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(PageError::not_found("not_found", "no such page"))
        }))
}

/// 303 to `location`: after a form, the browser GETs the result.
fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location))
        .finish()
}

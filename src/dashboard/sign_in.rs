//! Signing in with the API token (a session cookie comes back; wrong tokens
//! are throttled per client, see `sign_in_limit`) and out.

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER, SET_COOKIE};
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::context;
use serde::Deserialize;

use super::render::{html, render};
use super::{Dashboard, PageError, Session, see_other, session, session_guard, sign_in_limit};

#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SignIn {
    token: String,
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SignOut {
    #[serde(default)]
    csrf: String,
}

pub async fn form(query: web::Query<Next>) -> Result<HttpResponse, PageError> {
    show(StatusCode::OK, query.next.as_deref(), None)
}

pub async fn submit(
    request: HttpRequest,
    dashboard: web::Data<Dashboard>,
    form: web::Form<SignIn>,
) -> Result<HttpResponse, PageError> {
    let next = form.next.as_deref();
    let client = sign_in_limit::client_of(&request);
    if let Err(wait) = dashboard.sign_ins.attempt(client, Instant::now()) {
        tracing::warn!(%client, "dashboard sign-in throttled after repeated wrong tokens");
        return throttled(next, wait);
    }
    let Some(token) = dashboard.app.settings().api.token.clone() else {
        let message = "the API has no token configured (SHARD_API_TOKEN)";
        return show(StatusCode::UNAUTHORIZED, next, Some(message));
    };
    if !session::token_matches(form.token.trim(), &token) {
        tracing::info!(%client, "dashboard sign-in refused");
        return show(StatusCode::UNAUTHORIZED, next, Some("wrong token"));
    }
    dashboard.sign_ins.succeeded(client);
    let mut response = see_other(safe_next(next));
    response.headers_mut().insert(
        SET_COOKIE,
        session::issue(&token, secure(&request, &dashboard))
            .parse()
            .expect("a cookie is a valid header value"),
    );
    Ok(response)
}

/// 429 with `Retry-After`: the sign-in page, saying how long to wait.
fn throttled(next: Option<&str>, wait: Duration) -> Result<HttpResponse, PageError> {
    let secs = sign_in_limit::retry_after_secs(wait);
    let message = format!("too many wrong tokens from your address; try again in {secs} s");
    let mut response = show(StatusCode::TOO_MANY_REQUESTS, next, Some(&message))?;
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(secs));
    Ok(response)
}

pub async fn sign_out(
    request: HttpRequest,
    dashboard: web::Data<Dashboard>,
    session: Session,
    form: web::Form<SignOut>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&form.csrf)?;
    session_guard::end(&dashboard, &session).await?;
    let mut response = see_other("/ui/sign-in");
    response.headers_mut().insert(
        SET_COOKIE,
        session::clear(secure(&request, &dashboard))
            .parse()
            .expect("a cookie is a valid header value"),
    );
    Ok(response)
}

fn show(
    status: StatusCode,
    next: Option<&str>,
    error: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let ctx = context! { next => safe_next(next), error, signed_in => false };
    Ok(html(status).body(render("sign_in.html", ctx)?))
}

/// Only back into the dashboard: never an open redirect.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path) if path.starts_with("/ui") && !path.contains("//") && !path.contains('\\') => {
            path
        }
        _ => "/ui",
    }
}

/// `Secure` whenever people reach us over https (`api.public_url`), and for a
/// request that came over TLS (directly or via a proxy that says so) anyway.
fn secure(request: &HttpRequest, dashboard: &Dashboard) -> bool {
    let public = url::Url::parse(&dashboard.app.settings().api.public_url);
    public.is_ok_and(|url| url.scheme() == "https") || request.connection_info().scheme() == "https"
}

//! Page rendering: the templates under `templates/dashboard/`, compiled into
//! the binary and HTML-escaped; filters for UTC times with relative ages,
//! sizes and durations; the headers every dashboard answer carries.

use std::sync::LazyLock;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, HttpResponseBuilder};
use chrono::{DateTime, Utc};
use minijinja::{Environment, Value, context};

use super::{Dashboard, PageError, Session, assets};

macro_rules! templates {
    ($($name:literal),+ $(,)?) => {
        [$(($name, include_str!(concat!("../../templates/dashboard/", $name)))),+]
    };
}

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    let sources = templates!(
        "base.html",
        "macros.html",
        "sign_in.html",
        "error.html",
        "overview.html",
        "moves.html",
        "move.html",
        "move_live.html",
        "website.html",
        "shard.html",
        "audit.html",
        "rebalances.html",
        "rebalance_preview.html",
        "rebalance.html",
        "rebalance_live.html",
    );
    for (name, source) in sources {
        env.add_template(name, source)
            .expect("the dashboard templates are checked by the unit tests");
    }
    env.add_filter("utc", utc);
    env.add_filter("age", age);
    env.add_filter("bytes", bytes);
    env.add_filter("secs", secs);
    env.add_global("asset_version", assets::version());
    env
});

/// A full page for a signed-in operator.
pub fn page(
    dashboard: &Dashboard,
    session: &Session,
    template: &str,
    values: Value,
) -> Result<HttpResponse, PageError> {
    let ctx = context! {
        csrf => &session.csrf,
        signed_in => true,
        enabled => dashboard.enabled(),
        ..values
    };
    Ok(html(StatusCode::OK).body(render(template, ctx)?))
}

/// A live region's fragment (no layout), with what its buttons need.
pub fn fragment(
    dashboard: &Dashboard,
    session: &Session,
    template: &str,
    values: Value,
) -> Result<HttpResponse, PageError> {
    let ctx = context! { csrf => &session.csrf, enabled => dashboard.enabled(), ..values };
    Ok(html(StatusCode::OK).body(render(template, ctx)?))
}

pub fn render(template: &str, ctx: Value) -> Result<String, PageError> {
    Ok(TEMPLATES.get_template(template)?.render(ctx)?)
}

/// An error in the page; falls back to plain text should the template fail.
pub fn error_page(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    let ctx = context! { status => status.as_u16(), code, message, signed_in => false };
    match render("error.html", ctx) {
        Ok(body) => html(status).body(body),
        Err(_) => HttpResponse::build(status).body(format!("{code}: {message}")),
    }
}

pub fn html(status: StatusCode) -> HttpResponseBuilder {
    let mut response = HttpResponse::build(status);
    response
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"));
    response
}

/// Scripts and styles only from us; no framing; no sniffing; the time taken.
pub async fn security_headers(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let mut response = next.call(request).await?;
    let headers = response.headers_mut();
    // How long the server took, for the render-time test and browsers' dev tools.
    let timing = format!("page;dur={:.1}", started.elapsed().as_secs_f64() * 1000.0);
    headers.insert(
        header::HeaderName::from_static("server-timing"),
        HeaderValue::from_str(&timing).expect("digits are a valid header"),
    );
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    Ok(response)
}

fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `2026-11-30 10:35:12 UTC`.
fn utc(value: String) -> String {
    parse_time(&value).map_or(value, |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

/// `3 min ago`, `in 12 s`.
fn age(value: String) -> String {
    let Some(t) = parse_time(&value) else {
        return String::new();
    };
    let seconds = (Utc::now() - t).num_seconds();
    let span = secs(seconds.unsigned_abs() as f64);
    if seconds >= 0 {
        format!("{span} ago")
    } else {
        format!("in {span}")
    }
}

/// `42 s`, `3 min 5 s`, `2 h 10 min`, `4 d 3 h`.
fn secs(value: f64) -> String {
    let s = value.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86400, s % 86400 / 3600),
    }
}

/// Binary units: `812 KiB`, `1.2 GiB`.
fn bytes(value: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut size = value.max(0.0);
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < units.len() {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 || size >= 100.0 {
        format!("{size:.0} {}", units[unit])
    } else {
        format!("{size:.1} {}", units[unit])
    }
}

/// A list page's link with the same filters (empty ones left out) and
/// `before` the given id (0: the first page).
pub(super) fn filtered_link(path: &str, filters: &[(&str, &str)], before: i64) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in filters {
        if !value.is_empty() {
            query.append_pair(key, value);
        }
    }
    if before > 0 {
        query.append_pair("before", &before.to_string());
    }
    format!("{path}?{}", query.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_the_filters_read_well() {
        LazyLock::force(&TEMPLATES);
        assert_eq!(secs(185.0), "3 min 5 s");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(
            utc("2026-11-30T10:35:12.5Z".into()),
            "2026-11-30 10:35:12 UTC"
        );
        assert!(age(Utc::now().to_rfc3339()).ends_with("ago"));
    }
}

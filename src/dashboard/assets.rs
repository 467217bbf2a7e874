//! The dashboard's script and stylesheet, compiled into the binary and served
//! with long-lived cache headers: pages link them with a content hash, so a
//! new binary's assets are fetched afresh.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::PageError;

const SCRIPT: &str = include_str!("../../assets/dashboard.js");
const STYLE: &str = include_str!("../../assets/dashboard.css");

static VERSION: LazyLock<String> = LazyLock::new(|| {
    // FNV-1a over both files: changes whenever either does.
    let hash = (SCRIPT.bytes().chain(STYLE.bytes())).fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    format!("{hash:016x}")
});

pub fn version() -> String {
    VERSION.clone()
}

/// `/ui/static/{name}`: open (the sign-in page needs them too).
pub async fn serve(name: web::Path<String>) -> Result<HttpResponse, PageError> {
    let (body, kind) = match name.as_str() {
        "dashboard.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "dashboard.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return Err(PageError::not_found("not_found", "no such file")),
    };
    Ok(HttpResponse::Ok()
        .content_type(kind)
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::ETAG, format!("\"{}\"", version())))
        .body(body))
}

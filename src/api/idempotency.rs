//! `Idempotency-Key` on `POST /api/v1/migrations`: a repeat of the same request
//! is answered with the move the first one created; the same key with another
//! request is refused (422) rather than answered with a move it did not ask for
//! (`moves::request` decides; this reads the header).

use actix_web::HttpRequest;

/// The key the caller sent, when it is usable (1 to 200 characters).
pub fn key(request: &HttpRequest) -> Option<String> {
    let value = request
        .headers()
        .get("idempotency-key")?
        .to_str()
        .ok()?
        .trim();
    (!value.is_empty() && value.len() <= 200).then(|| value.to_owned())
}

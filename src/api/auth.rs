//! Bearer-token check for every `/api/v1` route, compared in constant time.

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::error::ApiError;

pub fn check(request: &HttpRequest, token: Option<&SecretString>) -> Result<(), ApiError> {
    let Some(expected) = token else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the API has no token configured (SHARD_API_TOKEN)",
        ));
    };
    let presented = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let matches: bool = presented
        .as_bytes()
        .ct_eq(expected.expose_secret().as_bytes())
        .into();
    if matches && !presented.is_empty() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong bearer token",
        ))
    }
}

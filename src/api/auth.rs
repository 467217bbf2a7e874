//! Bearer-token check for every `/api/v1` route, compared in constant time.
//! `require_token` runs as middleware on the whole scope, so an unauthenticated
//! request is 401 before its path, query or body is looked at.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, web};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;

pub async fn require_token(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let token = request
        .app_data::<web::Data<AppState>>()
        .and_then(|state| state.app.settings().api.token.clone());
    check(request.request(), token.as_ref())?;
    next.call(request).await
}

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

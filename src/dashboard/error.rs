//! A page's error: the web layer's mapping (`web::Failure`), so a page shows
//! the status, `code` and message the API would answer. 5xx pages say nothing
//! of the cause (the log has it); a request without a session is sent to sign in.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use super::render;
use crate::web::Failure;

#[derive(Debug)]
pub struct PageError {
    failure: Failure,
    /// Set for a missing session on a page: where to come back after signing in.
    sign_in_then: Option<String>,
}

/// Anything the web layer maps answers with the same status and `code` here.
impl<E> From<E> for PageError
where
    Failure: From<E>,
{
    fn from(error: E) -> Self {
        Self {
            failure: Failure::from(error),
            sign_in_then: None,
        }
    }
}

impl PageError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Failure::new(status, code, message).into()
    }

    pub fn bad_request(error: impl std::fmt::Display) -> Self {
        Failure::bad_request(error).into()
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Failure::not_found(code, message).into()
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Failure::forbidden(code, message).into()
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Failure::unprocessable(code, message).into()
    }

    /// No valid session: a page GET goes to the sign-in form, anything else is 401.
    pub fn signed_out(request: &HttpRequest) -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "sign in to use the dashboard",
        );
        let page =
            request.method() == actix_web::http::Method::GET && !request.path().ends_with("/live");
        if page {
            error.sign_in_then = Some(request.uri().to_string());
        }
        error
    }

    pub fn status(&self) -> StatusCode {
        self.failure.status
    }

    /// What a page shows of it.
    pub fn shown(&self) -> Shown {
        Shown {
            status: self.failure.status.as_u16(),
            code: self.failure.code,
            message: self.failure.message.clone(),
        }
    }
}

#[derive(Debug, serde::Serialize)]
pub struct Shown {
    status: u16,
    code: &'static str,
    message: String,
}

impl From<minijinja::Error> for PageError {
    fn from(error: minijinja::Error) -> Self {
        tracing::error!(error = ?error, "rendering a page failed");
        Failure::internal().into()
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.failure.fmt(f)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.failure.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(then) = &self.sign_in_then {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("next", then)
                .finish();
            return super::see_other(&format!("/ui/sign-in?{query}"));
        }
        let Failure {
            status,
            code,
            message,
        } = &self.failure;
        render::error_page(*status, code, message)
    }
}

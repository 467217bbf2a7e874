//! A page's error: the same `code` and message the API would answer, shown in
//! the page with the API's status. 5xx pages say nothing of the cause (the
//! log has it); a request without a session is sent to sign in.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use super::render;

#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Set for a missing session on a page: where to come back after signing in.
    sign_in_then: Option<String>,
}

impl PageError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            sign_in_then: None,
        }
    }

    pub fn bad_request(error: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", error.to_string())
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
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
        self.status
    }

    /// What a page shows of it.
    pub fn shown(&self) -> Shown {
        Shown {
            status: self.status.as_u16(),
            code: self.code,
            message: self.message.clone(),
        }
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the control database is unavailable; retry later",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error; see the server log",
        )
    }
}

#[derive(Debug, serde::Serialize)]
pub struct Shown {
    status: u16,
    code: &'static str,
    message: String,
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(then) = &self.sign_in_then {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("next", then)
                .finish();
            return super::see_other(&format!("/ui/sign-in?{query}"));
        }
        render::error_page(self.status, self.code, &self.message)
    }
}

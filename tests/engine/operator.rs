//! An operator's browser without a browser, for the dashboard's HTTP tests:
//! signs in, keeps the session cookie, reads the CSRF token off a page, and
//! checks that no page shows a password or a URL.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::app::{PASSWORD, TOKEN, TestApp};

/// A browser without a browser: keeps the session cookie and the page's CSRF token.
pub struct Operator {
    client: reqwest::Client,
    address: String,
    pub cookie: String,
}

pub struct Page {
    pub status: StatusCode,
    /// The server's own time for the request (`Server-Timing: page;dur=…`), in ms.
    pub server_ms: Option<f64>,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// The page's CSRF token, or `fallback` when it has no form.
    pub fn csrf_or(&self, fallback: &str) -> String {
        if self.body.contains("name=\"csrf\" value=\"") {
            self.csrf()
        } else {
            fallback.to_owned()
        }
    }

    /// The hidden CSRF field of the page's forms.
    pub fn csrf(&self) -> String {
        let start = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a CSRF token")
            + "name=\"csrf\" value=\"".len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        body.append_pair(key, value);
    }
    body.finish()
}

impl Operator {
    pub async fn sign_in(app: &TestApp) -> Self {
        let response = client()
            .post(format!("{}/ui/sign-in", app.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("token", TOKEN)]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let set = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
        Self {
            client: client(),
            address: app.address.clone(),
            cookie: set.split(';').next().unwrap().to_owned(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let request = self.client.get(format!("{}{path}", self.address));
        read(request.header(COOKIE, &self.cookie)).await
    }

    pub async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> Page {
        let request = self
            .client
            .post(format!("{}{path}", self.address))
            .header(COOKIE, &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(pairs));
        read(request).await
    }
}

pub async fn read(request: reqwest::RequestBuilder) -> Page {
    let response = request.send().await.unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let server_ms = response
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok()?.strip_prefix("page;dur=")?.parse().ok());
    let body = response.text().await.unwrap();
    assert!(!body.contains(PASSWORD), "a password leaked: {body}");
    assert!(!body.contains("postgres://"), "a URL leaked: {body}");
    Page {
        status,
        server_ms,
        location,
        body,
    }
}

pub fn ticket_of(body: &str) -> String {
    let start = body
        .find("name=\"ticket\" value=\"")
        .expect("a clean preview")
        + "name=\"ticket\" value=\"".len();
    body[start..].split('"').next().unwrap().to_owned()
}

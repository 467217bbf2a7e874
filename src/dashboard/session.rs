//! The session: a cookie `v1.<expires>.<csrf>.<mac>` signed with HMAC-SHA256
//! under a key derived from the API token, so rotating the token signs every
//! browser out. `HttpOnly`, `SameSite=Strict`, `Secure` over https, expiring.
//! The CSRF token lives in the signed cookie and in every form's hidden field.

use actix_web::HttpRequest;
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Dashboard, PageError};

pub(crate) const COOKIE: &str = "shardmover_session";
/// A signed-in browser stays signed in for a working day.
const LIFETIME_SECS: i64 = 8 * 3600;

/// A valid session, extracted before anything else about the request is read.
#[derive(Debug, Clone)]
pub struct Session {
    pub csrf: String,
    /// Unix seconds.
    pub expires: i64,
}

impl Session {
    /// Refuses a form whose hidden CSRF field is not this session's token.
    pub fn check_csrf(&self, presented: &str) -> Result<(), PageError> {
        if bool::from(presented.as_bytes().ct_eq(self.csrf.as_bytes())) {
            Ok(())
        } else {
            Err(PageError::forbidden(
                "csrf_token_invalid",
                "the form's CSRF token is missing or wrong; reload the page and try again",
            ))
        }
    }

    /// Names the session in the sign-out list without revealing its CSRF token.
    pub fn hash(&self) -> String {
        hex(&Sha256::digest(
            format!("dashboard session\n{}", self.csrf).as_bytes(),
        ))
    }

    /// A keyed tag over `text` for this session (a clean preview's ticket).
    pub fn tag(&self, token: &SecretString, text: &str) -> String {
        hex(&mac(token, &format!("{}\n{text}", self.csrf)))
    }
}

impl Dashboard {
    /// A preview's ticket: `text` tagged for this session, so a Start form
    /// carries only what a preview in this session showed.
    pub fn ticket(&self, session: &Session, text: &str) -> Result<String, PageError> {
        let token = self.app.settings().api.token.as_ref().ok_or_else(|| {
            PageError::new(
                actix_web::http::StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the API has no token configured (SHARD_API_TOKEN)",
            )
        })?;
        Ok(session.tag(token, text))
    }
}

/// Whether `presented` is the configured token (constant time).
pub fn token_matches(presented: &str, token: &SecretString) -> bool {
    let same: bool = presented
        .as_bytes()
        .ct_eq(token.expose_secret().as_bytes())
        .into();
    same && !presented.is_empty()
}

/// The `Set-Cookie` value of a new session.
pub fn issue(token: &SecretString, secure: bool) -> String {
    let expires = Utc::now().timestamp() + LIFETIME_SECS;
    let csrf = uuid::Uuid::new_v4().simple().to_string();
    let body = format!("v1.{expires}.{csrf}");
    let value = format!("{body}.{}", hex(&mac(token, &body)));
    attributes(&value, LIFETIME_SECS, secure)
}

/// The `Set-Cookie` value that removes the session.
pub fn clear(secure: bool) -> String {
    attributes("", 0, secure)
}

fn attributes(value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={value}; Path=/ui; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// The session in the request's cookie, if it is genuine and unexpired.
pub fn verify(request: &HttpRequest, token: &SecretString) -> Option<Session> {
    let value = request.cookie_value(COOKIE)?;
    let (body, tag) = value.rsplit_once('.')?;
    let mut parts = body.split('.');
    let (version, expires, csrf) = (parts.next()?, parts.next()?, parts.next()?);
    let genuine: bool = tag
        .as_bytes()
        .ct_eq(hex(&mac(token, body)).as_bytes())
        .into();
    let expires = expires.parse::<i64>().ok()?;
    let fresh = expires > Utc::now().timestamp();
    (genuine && fresh && version == "v1" && parts.next().is_none()).then(|| Session {
        csrf: csrf.to_owned(),
        expires,
    })
}

/// HMAC-SHA256 under a key derived from the API token (never the token itself).
fn mac(token: &SecretString, text: &str) -> Vec<u8> {
    let key = Sha256::new()
        .chain_update(b"shardmover dashboard session v1\n")
        .chain_update(token.expose_secret().as_bytes())
        .finalize();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(text.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

trait CookieValue {
    fn cookie_value(&self, name: &str) -> Option<String>;
}

impl CookieValue for HttpRequest {
    fn cookie_value(&self, name: &str) -> Option<String> {
        self.headers()
            .get_all(actix_web::http::header::COOKIE)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_signed_under_another_token_or_altered_is_not_a_session() {
        let token = SecretString::from("right");
        let cookie = issue(&token, false);
        let value = cookie
            .split(';')
            .next()
            .unwrap()
            .trim_start_matches("shardmover_session=");
        let request = |v: &str| {
            actix_web::test::TestRequest::default()
                .insert_header(("Cookie", format!("{COOKIE}={v}")))
                .to_http_request()
        };
        assert!(verify(&request(value), &token).is_some());
        assert!(verify(&request(value), &SecretString::from("wrong")).is_none());
        let forged = value.replacen("v1.", "v1.9", 1);
        assert!(verify(&request(&forged), &token).is_none());
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(issue(&token, true).ends_with("; Secure"));
    }
}

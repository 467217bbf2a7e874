//! The session: a cookie whose value `v1.<expires>.<csrf>` is signed by the
//! `cookie` crate's signed jar (HMAC-SHA256, as actix-web re-exports it) under
//! a key derived from the API token, so rotating the token signs every browser
//! out. `HttpOnly`, `SameSite=Strict`, `Secure` over https, expiring after 8 h
//! — checked here as well as by the browser. The CSRF token lives in the
//! signed value and in every form's hidden field.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, CookieJar, Key, SameSite, time};
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256, Sha512};
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

    /// A keyed tag over `text` for this session (a clean preview's ticket): a
    /// digest of both, signed like the cookie; URL-safe, so a form's hidden
    /// field carries it verbatim through HTML escaping.
    pub fn tag(&self, token: &SecretString, text: &str) -> String {
        let digest = hex(&Sha256::digest(format!("{}\n{text}", self.csrf)));
        signed(token, Cookie::new("ticket", digest))
            .value()
            .replace('+', "-")
            .replace('/', "_")
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
    header(session_cookie(token, expires, &csrf), secure)
}

/// The `Set-Cookie` value that removes the session.
pub fn clear(secure: bool) -> String {
    header(attributes(Cookie::new(COOKIE, ""), 0), secure)
}

/// The session in the request's cookie, if it is genuine and unexpired.
pub fn verify(request: &HttpRequest, token: &SecretString) -> Option<Session> {
    let cookie = CookieJar::new()
        .signed(&key(token))
        .verify(request.cookie(COOKIE)?)?;
    let mut parts = cookie.value().split('.');
    let (version, expires, csrf) = (parts.next()?, parts.next()?, parts.next()?);
    let expires = expires.parse::<i64>().ok()?;
    let fresh = expires > Utc::now().timestamp();
    (fresh && version == "v1" && parts.next().is_none()).then(|| Session {
        csrf: csrf.to_owned(),
        expires,
    })
}

/// The signed session cookie with its attributes (but `Secure`, see `header`).
fn session_cookie(token: &SecretString, expires: i64, csrf: &str) -> Cookie<'static> {
    let value = format!("v1.{expires}.{csrf}");
    signed(token, attributes(Cookie::new(COOKIE, value), LIFETIME_SECS))
}

fn attributes(mut cookie: Cookie<'static>, max_age: i64) -> Cookie<'static> {
    cookie.set_path("/ui");
    cookie.set_max_age(time::Duration::seconds(max_age));
    cookie.set_http_only(true);
    cookie.set_same_site(SameSite::Strict);
    cookie
}

/// The crate renders `Secure` before `Path`; it stays the last attribute, as
/// it always was here (browsers don't mind either way; readers of the header do).
fn header(cookie: Cookie<'_>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{cookie}{secure}")
}

/// `cookie` with its value signed by the signed jar under the token's key.
fn signed(token: &SecretString, cookie: Cookie<'static>) -> Cookie<'static> {
    let name = cookie.name().to_owned();
    let mut jar = CookieJar::new();
    jar.signed_mut(&key(token)).add(cookie);
    jar.get(&name)
        .cloned()
        .expect("the jar holds what was added")
}

/// The jar's 64-byte key, derived from the API token (never the token itself).
fn key(token: &SecretString) -> Key {
    let seed = Sha512::new()
        .chain_update(b"shardmover dashboard session v2\n")
        .chain_update(token.expose_secret().as_bytes())
        .finalize();
    Key::from(&seed)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(cookie: &Cookie<'_>) -> HttpRequest {
        actix_web::test::TestRequest::default()
            .cookie(cookie.clone().into_owned())
            .to_http_request()
    }

    #[test]
    fn a_cookie_signed_under_another_token_altered_or_expired_is_not_a_session() {
        let token = SecretString::from("right");
        let later = Utc::now().timestamp() + 60;
        let genuine = session_cookie(&token, later, "c5rf");
        let session = verify(&request(&genuine), &token).expect("a session");
        assert_eq!((session.csrf.as_str(), session.expires), ("c5rf", later));
        assert!(verify(&request(&genuine), &SecretString::from("wrong")).is_none());
        let mut forged = genuine.clone();
        forged.set_value(genuine.value().replacen("v1.", "v1.9", 1));
        assert!(verify(&request(&forged), &token).is_none());
        let expired = session_cookie(&token, Utc::now().timestamp() - 1, "c5rf");
        assert!(verify(&request(&expired), &token).is_none());
    }

    #[test]
    fn the_cookie_is_strict_httponly_and_secure_last_when_asked() {
        let token = SecretString::from("right");
        let cookie = issue(&token, false);
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age=28800"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        assert!(
            !cookie.contains("Secure") && !cookie.contains("right"),
            "{cookie}"
        );
        assert!(issue(&token, true).ends_with("; Secure"));
        assert!(
            clear(true).starts_with("shardmover_session=;") && clear(true).contains("Max-Age=0")
        );
    }

    #[test]
    fn a_ticket_is_bound_to_its_session_its_text_and_the_token_and_survives_html() {
        let token = SecretString::from("right");
        let session = Session {
            csrf: "a".into(),
            expires: 0,
        };
        let other = Session {
            csrf: "b".into(),
            expires: 0,
        };
        let ticket = session.tag(&token, "preview 7 shard_2");
        assert_eq!(ticket, session.tag(&token, "preview 7 shard_2"));
        assert_ne!(ticket, session.tag(&token, "preview 7 shard_3"));
        assert_ne!(ticket, other.tag(&token, "preview 7 shard_2"));
        assert_ne!(
            ticket,
            session.tag(&SecretString::from("new"), "preview 7 shard_2")
        );
        assert!(
            ticket
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_=".contains(c))
        );
    }
}

//! Throttles token guessing at the sign-in form: after `MAX_FAILURES` wrong
//! tokens from one client within `WINDOW`, every sign-in from it (right token
//! or not, else the answer would still tell them apart) is refused with 429
//! until the oldest of those failures is `WINDOW` old. A right token counts
//! nothing and forgives the client's earlier failures.
//!
//! A small limiter of our own rather than `actix-governor`: that crate (0.10)
//! is GPL-3.0-or-later (shardmover is MIT OR Apache-2.0), and it counts every
//! request through its middleware where only failed sign-ins may count.
//!
//! The client is the TCP peer (an IPv6 one by its /64, which one host usually
//! holds whole): `X-Forwarded-For` is the client's to forge. Behind a reverse
//! proxy every browser shares the proxy's budget, so throttle there too.
//! The counts are per process and in memory: N processes allow N times the
//! guesses and a restart forgets them; nothing but throttling relies on them.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;

pub const MAX_FAILURES: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Forgetting stale clients is a scan of the map, done whenever the map has
/// doubled since the last scan, so it costs O(1) per failure on average.
const FIRST_SCAN_AT: usize = 1024;

/// One process's recent failed sign-ins, by client.
#[derive(Debug)]
pub struct SignInLimiter {
    inner: Mutex<Failures>,
}

#[derive(Debug)]
struct Failures {
    by_client: HashMap<IpAddr, VecDeque<Instant>>,
    scan_at: usize,
}

impl Default for SignInLimiter {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Failures {
                by_client: HashMap::new(),
                scan_at: FIRST_SCAN_AT,
            }),
        }
    }
}

impl SignInLimiter {
    /// Lets `client` try a token, counting the try as a failure until
    /// `succeeded` says otherwise (checking and counting under one lock, so
    /// concurrent guesses cannot all slip past the check); or how long it must
    /// wait first.
    pub fn attempt(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut failures = self.inner.lock().expect("not poisoned");
        let recent = failures.by_client.entry(client).or_default();
        recent.retain(|at| now < *at + WINDOW);
        if recent.len() >= MAX_FAILURES {
            return Err(recent[recent.len() - MAX_FAILURES] + WINDOW - now);
        }
        recent.push_back(now);
        if failures.by_client.len() >= failures.scan_at {
            failures
                .by_client
                .retain(|_, recent| recent.back().is_some_and(|at| now < *at + WINDOW));
            failures.scan_at = (failures.by_client.len() * 2).max(FIRST_SCAN_AT);
        }
        Ok(())
    }

    /// A right token: this try and the client's earlier failures are forgiven.
    pub fn succeeded(&self, client: IpAddr) {
        self.inner
            .lock()
            .expect("not poisoned")
            .by_client
            .remove(&client);
    }
}

/// The key a request is counted under: its peer address, an IPv6 one by its /64.
pub fn client_of(request: &HttpRequest) -> IpAddr {
    let ip = request
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |peer| peer.ip());
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u128::MAX >> 64))),
        },
        v4 => v4,
    }
}

/// `Retry-After` in whole seconds, never 0.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_failure_within_a_minute_throttles_until_the_first_is_a_minute_old() {
        let limiter = SignInLimiter::default();
        let (client, other) = ("192.0.2.7".parse().unwrap(), "192.0.2.8".parse().unwrap());
        let t0 = Instant::now();
        for i in 0..MAX_FAILURES as u64 {
            let at = t0 + Duration::from_secs(i);
            assert_eq!(limiter.attempt(client, at), Ok(()), "try {i}");
        }
        let now = t0 + Duration::from_secs(10);
        assert_eq!(limiter.attempt(client, now), Err(Duration::from_secs(50)));
        assert_eq!(limiter.attempt(other, now), Ok(()), "another client");
        let later = t0 + WINDOW;
        assert_eq!(limiter.attempt(client, later), Ok(()), "the first aged out");
        assert!(
            limiter.attempt(client, later).is_err(),
            "and that try counted"
        );
        limiter.succeeded(client);
        assert_eq!(
            limiter.attempt(client, later),
            Ok(()),
            "a right token forgives"
        );
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_and_a_mapped_ipv4_as_ipv4() {
        let request = |peer: &str| {
            actix_web::test::TestRequest::default()
                .peer_addr(peer.parse().unwrap())
                .to_http_request()
        };
        let a = client_of(&request("[2001:db8:1:2:aaaa::1]:5000"));
        let b = client_of(&request("[2001:db8:1:2:bbbb::9]:6000"));
        assert_eq!(a, b);
        assert_eq!(a, "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        let mapped = client_of(&request("[::ffff:192.0.2.7]:5000"));
        assert_eq!(mapped, "192.0.2.7".parse::<IpAddr>().unwrap());
        assert_eq!(retry_after_secs(Duration::from_millis(49_001)), 50);
    }
}

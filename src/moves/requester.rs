//! Who asks for a change: an email address, on `TENANT_ADMIN_EMAILS` when that
//! is set. Checked here once for the API, the dashboard and rebalance plans.

use super::MovesError;
use crate::config::Settings;

/// The requester, lower-cased, or why it may not ask.
pub fn requester(settings: &Settings, requested_by: &str) -> Result<String, MovesError> {
    let email = requested_by.trim().to_lowercase();
    let plausible = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
        && crate::ids::EmailAddress::parse(&email).is_ok();
    if !plausible {
        return Err(MovesError::InvalidRequester);
    }
    match &settings.flags.admin_emails {
        Some(allowed) if !allowed.contains(&email) => Err(MovesError::RequesterNotAllowed(email)),
        _ => Ok(email),
    }
}

//! Who asks for a change: an email address (`ids::EmailAddress`), on
//! `TENANT_ADMIN_EMAILS` when that is set. The one check for the API, the
//! dashboard, the CLI and rebalance plans.

use super::MovesError;
use crate::config::Settings;
use crate::ids::EmailAddress;

/// The requester, lower-cased, or why it may not ask.
pub fn requester(settings: &Settings, requested_by: &str) -> Result<EmailAddress, MovesError> {
    let email = EmailAddress::parse(&requested_by.to_lowercase())
        .map_err(|_| MovesError::InvalidRequester)?;
    match &settings.flags.admin_emails {
        Some(allowed) if !allowed.iter().any(|a| a == email.as_str()) => {
            Err(MovesError::RequesterNotAllowed(email.into()))
        }
        _ => Ok(email),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(allowed: Option<&[&str]>) -> Settings {
        let mut settings = Settings::load(None).unwrap();
        settings.flags.admin_emails = allowed.map(|a| a.iter().map(|e| e.to_string()).collect());
        settings
    }

    #[test]
    fn a_requester_is_an_email_address_trimmed_and_lower_cased() {
        let open = settings(None);
        assert_eq!(
            requester(&open, " Ops@Example.COM ").unwrap().as_str(),
            "ops@example.com"
        );
        for refused in ["", "nobody", "@example.com", "ops@", "two@at@example.com"] {
            assert!(
                matches!(requester(&open, refused), Err(MovesError::InvalidRequester)),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn with_an_allow_list_only_its_addresses_may_ask() {
        let listed = settings(Some(&["boss@example.com"]));
        assert!(requester(&listed, "BOSS@example.com").is_ok());
        assert!(matches!(
            requester(&listed, "intern@example.com"),
            Err(MovesError::RequesterNotAllowed(e)) if e == "intern@example.com"
        ));
    }
}

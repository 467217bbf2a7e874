//! The API's rollout flags and admin allow-list, applied to pages and forms:
//! a disabled feature's routes answer 403 `feature_disabled` as the API's do
//! (and its controls are not drawn).

use serde::Serialize;

use super::{Dashboard, PageError};

#[derive(Debug, Clone, Copy)]
pub enum Feature {
    /// Every page (`SHARD_ADMIN_ENABLED`).
    Admin,
    /// Previewing, starting, cancelling and finalizing moves
    /// (`SHARD_MIGRATIONS_ENABLED`, and `SHARD_ADMIN_ENABLED` like everything here).
    Migrations,
}

/// What the templates need to know to hide controls.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Enabled {
    pub migrations: bool,
}

impl Dashboard {
    /// The whole dashboard is an admin surface: every page and every action
    /// needs `SHARD_ADMIN_ENABLED`, and moving needs `SHARD_MIGRATIONS_ENABLED` too.
    pub fn require(&self, feature: Feature) -> Result<(), PageError> {
        let flags = &self.app.settings().flags;
        let off = if !flags.admin {
            Some("SHARD_ADMIN_ENABLED")
        } else if matches!(feature, Feature::Migrations) && !flags.migrations {
            Some("SHARD_MIGRATIONS_ENABLED")
        } else {
            None
        };
        match off {
            None => Ok(()),
            Some(flag) => Err(PageError::forbidden(
                "feature_disabled",
                format!("this route is disabled by {flag}=false"),
            )),
        }
    }

    pub fn enabled(&self) -> Enabled {
        Enabled {
            migrations: self.app.settings().flags.migrations,
        }
    }

    /// A change must name who asks, on `TENANT_ADMIN_EMAILS` when that is set.
    pub fn requester(&self, requested_by: &str) -> Result<String, PageError> {
        let email = requested_by.trim().to_lowercase();
        let plausible = email.len() <= 254
            && email
                .split_once('@')
                .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'));
        if !plausible {
            return Err(PageError::unprocessable(
                "invalid_requested_by",
                "requested_by must be an email address",
            ));
        }
        match &self.app.settings().flags.admin_emails {
            Some(allowed) if !allowed.contains(&email) => Err(PageError::forbidden(
                "requester_not_allowed",
                format!("{email} is not in TENANT_ADMIN_EMAILS"),
            )),
            _ => Ok(email),
        }
    }
}

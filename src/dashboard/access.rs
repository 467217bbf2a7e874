//! The API's rollout flags and admin allow-list, applied to pages and forms:
//! a disabled feature's routes answer 403 `feature_disabled` as the API's do
//! (and its controls are not drawn).

use serde::Serialize;

use super::{Dashboard, PageError, Session};

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

    /// A form that changes something: this session's CSRF token first, then `feature`.
    pub fn allow_form(
        &self,
        session: &Session,
        csrf: &str,
        feature: Feature,
    ) -> Result<(), PageError> {
        session.check_csrf(csrf)?;
        self.require(feature)
    }

    pub fn enabled(&self) -> Enabled {
        Enabled {
            migrations: self.app.settings().flags.migrations,
        }
    }
}

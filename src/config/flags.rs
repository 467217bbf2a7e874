//! Rollout flags, read from the environment (`SHARD_*_ENABLED`,
//! `TENANT_ADMIN_EMAILS`) rather than from files.

/// The rollout flags of the seed plan; each defaults to enabled.
#[derive(Debug, Clone)]
pub struct FeatureFlags {
    pub admin: bool,
    pub assignment: bool,
    pub migrations: bool,
    pub bulk_ops: bool,
    /// When set, only these addresses may ask for changes.
    pub admin_emails: Option<Vec<String>>,
}

impl Default for FeatureFlags {
    fn default() -> Self {
        Self {
            admin: true,
            assignment: true,
            migrations: true,
            bulk_ops: true,
            admin_emails: None,
        }
    }
}

impl FeatureFlags {
    pub fn from_env() -> Self {
        let flag = |name: &str| {
            std::env::var(name)
                .map(|v| !v.trim().eq_ignore_ascii_case("false"))
                .unwrap_or(true)
        };
        let admin_emails = std::env::var("TENANT_ADMIN_EMAILS").ok().map(|list| {
            list.split(',')
                .map(|e| e.trim().to_lowercase())
                .filter(|e| !e.is_empty())
                .collect()
        });
        Self {
            admin: flag("SHARD_ADMIN_ENABLED"),
            assignment: flag("SHARD_ASSIGNMENT_ENABLED"),
            migrations: flag("SHARD_MIGRATIONS_ENABLED"),
            bulk_ops: flag("SHARD_BULK_OPS_ENABLED"),
            admin_emails,
        }
    }
}

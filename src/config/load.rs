//! Layering: `config/default.toml`, then an optional file, then
//! `SHARDMOVER__SECTION__KEY` environment overrides; then the few settings
//! read from environment variables of their own, then the checks.

use std::path::{Path, PathBuf};

use config::{Environment, File, FileFormat};
use secrecy::SecretString;

use super::{ConfigError, FeatureFlags, Settings, unknown_keys};

const DEFAULTS: &str = include_str!("../../config/default.toml");

impl Settings {
    /// Loads defaults, then `file` (or `SHARDMOVER_CONFIG`), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let file: Option<PathBuf> = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("SHARDMOVER_CONFIG").map(PathBuf::from));
        let mut settings = Self::from_layers(file.as_deref(), environment(None))?;
        if let Ok(token) = std::env::var("SHARD_API_TOKEN") {
            settings.api.token = Some(SecretString::from(token));
        }
        if let Ok(list) = std::env::var("SHARD_NOTIFY_EMAILS") {
            settings.mail.notify = crate::ids::EmailAddress::parse_list(&list)
                .map_err(|e| ConfigError::Mail(format!("SHARD_NOTIFY_EMAILS: {e}")))?;
        }
        settings.flags = FeatureFlags::from_env();
        settings.shard_ops.apply_env()?;
        settings.validate()?;
        Ok(settings)
    }

    /// The three layers, refusing any key that no setting reads.
    pub(super) fn from_layers(file: Option<&Path>, env: Environment) -> Result<Self, ConfigError> {
        let mut builder =
            config::Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(file) = file {
            builder = builder.add_source(File::from(file).required(true));
        }
        let layered = builder.add_source(env.clone()).build()?;
        unknown_keys::deserialize(layered, file, &env)
    }
}

/// `SHARDMOVER__SECTION__KEY` variables (two underscores: `SHARDMOVER_CONFIG`
/// is not one); `vars` stands in for the process environment in tests.
pub(super) fn environment(vars: Option<config::Map<String, String>>) -> Environment {
    Environment::with_prefix("SHARDMOVER")
        .prefix_separator("__")
        .separator("__")
        .list_separator(",")
        .with_list_parse_key("tenancy.schemas")
        .with_list_parse_key("tenancy.exclude_tables")
        .with_list_parse_key("mail.notify")
        .try_parsing(true)
        .source(vars)
}

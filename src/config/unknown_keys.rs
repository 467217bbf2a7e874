//! Keys no setting reads are refused, all of them at once, each named with
//! where it was written: a misspelt `[[tenancy.relations]]` would otherwise be
//! silently ignored, and a relation the operator declared silently not moved.

use std::fmt;
use std::path::{Path, PathBuf};

use config::{Environment, Source, Value, ValueKind};

use super::key_path::{KeyPath, Segment};
use super::{ConfigError, Settings, known_keys};

/// One key that no setting reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    /// As written: `engine.batch_rowz`, `tenancy.relations[0].colums`.
    pub key: String,
    pub origin: Origin,
    /// The known key it most likely means.
    pub suggestion: Option<String>,
}

/// Where an unknown key was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The environment variables that set it (or keys beneath it).
    Env(Vec<String>),
    File(PathBuf),
    /// config/default.toml, compiled in.
    Defaults,
}

/// Deserializes the layered configuration, refusing every key no setting reads
/// (even when the rest fails too: a misspelt key is the likelier cause).
pub(super) fn deserialize(
    layered: config::Config,
    file: Option<&Path>,
    env: &Environment,
) -> Result<Settings, ConfigError> {
    let mut ignored = Vec::new();
    let settings = serde_ignored::deserialize(layered, |path| ignored.push(KeyPath::from(&path)));
    if ignored.is_empty() {
        return Ok(settings?);
    }
    let mut unknown: Vec<UnknownKey> = ignored
        .into_iter()
        .map(|key| UnknownKey {
            origin: origin(&key, file, env),
            suggestion: known_keys::suggest(&key).map(|k| k.to_string()),
            key: key.to_string(),
        })
        .collect();
    unknown.sort_by(|a, b| a.key.cmp(&b.key));
    Err(ConfigError::UnknownKeys(unknown))
}

/// The last layer that holds `key`: the environment, the operator's file or the defaults.
fn origin(key: &KeyPath, file: Option<&Path>, env: &Environment) -> Origin {
    let dotted = key.to_string();
    // Environment keys come flat and dotted, `engine.batch_rowz`.
    let mut vars: Vec<String> = env
        .collect()
        .unwrap_or_default()
        .into_keys()
        .filter(|k| *k == dotted || k.starts_with(&format!("{dotted}.")))
        .map(|k| format!("SHARDMOVER__{}", k.to_uppercase().replace('.', "__")))
        .collect();
    if !vars.is_empty() {
        vars.sort();
        return Origin::Env(vars);
    }
    match file {
        Some(file) if in_file(key, file) => Origin::File(file.to_path_buf()),
        _ => Origin::Defaults,
    }
}

fn in_file(key: &KeyPath, file: &Path) -> bool {
    let Ok(table) = config::File::from(file).collect() else {
        return false;
    };
    let mut value = Value::new(None, ValueKind::Table(table));
    for segment in key.segments() {
        let next = match (value.kind, segment) {
            (ValueKind::Table(mut table), Segment::Key(k)) => table.remove(k),
            (ValueKind::Array(mut array), Segment::Index(i)) if *i < array.len() => {
                Some(array.swap_remove(*i))
            }
            _ => None,
        };
        match next {
            Some(next) => value = next,
            None => return false,
        }
    }
    true
}

impl fmt::Display for UnknownKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {}", self.key, self.origin)?;
        match &self.suggestion {
            Some(suggestion) => write!(f, " (did you mean {suggestion:?}?)"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Env(vars) => write!(f, "from {}", vars.join(", ")),
            Origin::File(path) => write!(f, "in {}", path.display()),
            Origin::Defaults => f.write_str("in the built-in config/default.toml"),
        }
    }
}

/// `unknown key "a" in f.toml` or `unknown keys "a" in f.toml; "b" from SHARDMOVER__B`.
pub(super) fn describe(unknown: &[UnknownKey]) -> String {
    let list: Vec<String> = unknown.iter().map(ToString::to_string).collect();
    let plural = if list.len() == 1 { "" } else { "s" };
    format!("unknown key{plural} {}", list.join("; "))
}

//! Identifiers parsed once at the boundary and trusted inside.

use std::fmt;

use serde::{Deserialize, Serialize};

mod email_address;

pub use email_address::EmailAddress;

/// A tenant's key value (`tenancy.key_column`), always a positive integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct WebsiteId(i64);

impl WebsiteId {
    pub fn new(id: i64) -> Result<Self, String> {
        if id > 0 {
            Ok(Self(id))
        } else {
            Err(format!("website id must be a positive integer, got {id}"))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for WebsiteId {
    type Error = String;
    fn try_from(id: i64) -> Result<Self, String> {
        Self::new(id)
    }
}

impl From<WebsiteId> for i64 {
    fn from(id: WebsiteId) -> i64 {
        id.0
    }
}

impl std::str::FromStr for WebsiteId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let id: i64 = s
            .trim()
            .parse()
            .map_err(|_| format!("website id must be a positive integer, got {s:?}"))?;
        Self::new(id)
    }
}

impl fmt::Display for WebsiteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A configured shard's name: 1–63 characters of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShardName(String);

impl ShardName {
    pub fn parse(name: &str) -> Result<Self, String> {
        let valid = !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(format!(
                "shard name must be 1-63 characters of letters, digits, '_' or '-', got {name:?}"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ShardName {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        Self::parse(&name)
    }
}

impl From<ShardName> for String {
    fn from(name: ShardName) -> String {
        name.0
    }
}

impl std::str::FromStr for ShardName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl fmt::Display for ShardName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of one move, as stored in `shardmover.migrations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MoveId(i64);

impl MoveId {
    pub fn get(self) -> i64 {
        self.0
    }
}

/// Ids come from the database's `bigserial` or from a path or argument that
/// names one; a number no move has is answered by the lookup (404), not here.
impl From<i64> for MoveId {
    fn from(id: i64) -> Self {
        Self(id)
    }
}

impl fmt::Display for MoveId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The id of one email notice, as stored in `shardmover.notifications`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NotificationId(pub i64);

impl From<i64> for NotificationId {
    fn from(id: i64) -> Self {
        Self(id)
    }
}

impl fmt::Display for NotificationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn website_ids_parse_exactly_the_positive_integers(n in any::<i64>()) {
            prop_assert_eq!(n.to_string().parse::<WebsiteId>().is_ok(), n > 0);
        }

        #[test]
        fn shard_names_never_contain_quotes_or_spaces(s in ".{0,70}") {
            if let Ok(name) = ShardName::parse(&s) {
                prop_assert!(!name.as_str().contains(['"', '\'', ' ', '.']));
            }
        }
    }
}

//! An email address, parsed once where it enters (config, API, job rows).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(lettre::Address);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, String> {
        lettre::Address::from_str(raw.trim())
            .map(Self)
            .map_err(|e| format!("{raw:?} is not an email address: {e}"))
    }

    /// Parses a comma-separated list, such as `SHARD_NOTIFY_EMAILS`.
    pub fn parse_list(raw: &str) -> Result<Vec<Self>, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Self::parse)
            .collect()
    }

    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }

    pub(crate) fn to_lettre(&self) -> lettre::Address {
        self.0.clone()
    }

    /// Addresses compare case-insensitively for de-duplication.
    fn key(&self) -> String {
        self.as_str().to_lowercase()
    }

    /// Keeps the first of each address, in order.
    pub fn dedup(addresses: impl IntoIterator<Item = Self>) -> Vec<Self> {
        let mut seen = std::collections::HashSet::new();
        addresses
            .into_iter()
            .filter(|a| seen.insert(a.key()))
            .collect()
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl From<EmailAddress> for String {
    fn from(address: EmailAddress) -> String {
        address.as_str().to_owned()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_trim_and_reject_garbage() {
        let list = EmailAddress::parse_list(" ops@example.com, ,dba@example.com ").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].as_str(), "dba@example.com");
        assert!(EmailAddress::parse_list("ops@example.com, not-an-address").is_err());
    }

    #[test]
    fn dedup_ignores_case_and_keeps_order() {
        let list = EmailAddress::parse_list("A@example.com,b@example.com,a@EXAMPLE.com").unwrap();
        let kept: Vec<String> = EmailAddress::dedup(list)
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(kept, ["A@example.com", "b@example.com"]);
    }
}

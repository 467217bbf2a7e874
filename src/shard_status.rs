//! A shard's operational status, as configured and as later issues store it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShardStatus {
    Provisioning,
    #[default]
    Available,
    AtCapacity,
    Maintenance,
    Decommissioned,
}

impl ShardStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioning => "provisioning",
            Self::Available => "available",
            Self::AtCapacity => "at_capacity",
            Self::Maintenance => "maintenance",
            Self::Decommissioned => "decommissioned",
        }
    }

    /// Only an available shard takes websites, by placement or by move.
    pub fn accepts_websites(self) -> bool {
        self == Self::Available
    }
}

impl std::fmt::Display for ShardStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

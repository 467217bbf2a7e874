//! Operators' tools.

pub(crate) mod fences;
pub(crate) mod finalize;
pub(crate) mod freeze_expiry;
pub(crate) mod outage;

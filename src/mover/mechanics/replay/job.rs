//! What one replay is told: the plan, the move and attempt it replays for, and
//! the target's sequences each batch advances past what it writes.

use crate::domain::MoveRecord;
use crate::ids::{MoveId, WebsiteId};
use crate::mover::mechanics::sequences::OwnedSequence;
use crate::tenancy::TenantTable;

pub struct Replay<'a> {
    /// Tenant tables in copy order (parents first).
    pub plan: &'a [TenantTable],
    pub website: WebsiteId,
    pub migration: MoveId,
    /// The attempt replaying: each batch commits only while it owns the move.
    pub attempt: i32,
    /// The target's sequences owned by each table's columns (by plan index),
    /// advanced past what each batch writes.
    pub(super) sequences: Vec<Vec<OwnedSequence>>,
}

impl<'a> Replay<'a> {
    /// `sequences`: the target's sequences owned by each table of `plan`.
    pub fn new(
        plan: &'a [TenantTable],
        record: &MoveRecord,
        attempt: i32,
        sequences: Vec<Vec<OwnedSequence>>,
    ) -> Self {
        Self {
            plan,
            website: record.website,
            migration: record.id,
            attempt,
            sequences,
        }
    }
}

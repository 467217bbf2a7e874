//! What one table's copy is told, and when a self-referencing table goes in
//! two passes (rows first, their links after).

use crate::ids::{MoveId, WebsiteId};
use crate::tenancy::TenantTable;

pub struct TableCopy<'a> {
    pub table: &'a TenantTable,
    pub website: WebsiteId,
    pub migration: MoveId,
    /// The attempt copying: each chunk commits only while it owns the move.
    pub attempt: i32,
    pub batch_rows: u32,
    /// `work_mem` for the source session, e.g. "256MB".
    pub sort_memory: &'a str,
    /// A self-referencing table copied in chunks, its links filled in after
    /// (see `two_passes`).
    pub links_later: bool,
}

/// A self-referencing table this many chunks long or shorter goes as one chunk
/// with its links inline: a second pass rewrites every linked row, which costs
/// more than it saves on a small tree. Longer trees go in bounded chunks.
const TREE_CHUNKS_IN_ONE: i64 = 10;

/// Whether a self-referencing table of `rows` rows is copied (and deleted) in
/// two passes: rows in chunks with their links NULL, then the links.
pub fn two_passes(table: &TenantTable, rows: i64, batch_rows: u32) -> bool {
    table.links_later() && rows > TREE_CHUNKS_IN_ONE * i64::from(batch_rows)
}

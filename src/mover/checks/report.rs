//! What preflight reports: each table it would move, where the website lives
//! and goes, leftovers on either shard, and notes on the schema. The dry run
//! prints it; the preflight phase keeps its plan.

use serde::Serialize;

use super::schema_notes::SchemaNotes;
use crate::ids::{ShardName, WebsiteId};
use crate::tenancy::TenantTable;

#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub name: String,
    pub rows: i64,
    pub primary_key: Vec<String>,
    /// How its rows are found: the key column, or the path through parents.
    pub owner: String,
    pub self_referencing: bool,
    /// Copied in chunks with its self-references filled in afterwards.
    pub links_later: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PreflightReport {
    pub website_id: WebsiteId,
    pub source_shard: ShardName,
    pub source_location: String,
    pub target_shard: ShardName,
    pub target_location: String,
    pub rows_total: i64,
    pub tables: Vec<TableReport>,
    /// Change capture left on either shard by moves that have ended.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leftovers: Vec<String>,
    /// Tables left alone, triggers, row security, materialized views.
    pub schema: SchemaNotes,
    #[serde(skip)]
    pub plan: Vec<TenantTable>,
}

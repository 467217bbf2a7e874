//! The tenant's shape on a shard: which tables hold a website's rows (found
//! from the Postgres catalogue), the order they are copied in, and how two
//! shards' shapes differ. Used by the move engine and by shard operations.

pub mod copy_plan;
mod error;
mod keys;
pub mod schema_diff;
pub mod tables;

pub use copy_plan::order_by_foreign_keys;
pub use error::TenancyError;
pub use tables::{Column, TenantTable, discover, tenant_filter};

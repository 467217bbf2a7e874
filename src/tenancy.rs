//! The tenant's shape on a shard: which tables hold a website's rows (found
//! from the Postgres catalogue and the configured relations), how each row is
//! known to be the website's, the order tables are copied in, and how two
//! shards' shapes differ. Used by the move engine and by shard operations.

pub mod copy_plan;
mod discovery;
mod edges;
mod error;
mod keys;
mod ownership;
mod paths;
pub mod schema_diff;
pub mod tables;

pub use copy_plan::order_by_foreign_keys;
pub use discovery::{LeftAlone, Survey, discover, survey};
pub use edges::{ForeignKeyInto, foreign_keys_into};
pub use error::TenancyError;
pub(crate) use ownership::qualified;
pub use ownership::{Hop, Ownership, ParentPath};
pub use tables::{Column, TenantTable};

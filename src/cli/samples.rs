//! What the demo, the benches and the tests run against, kept out of the
//! product: a sample multi-tenant schema and its data, a made-up history of
//! finished moves, and throwaway databases created fresh and dropped after.

pub mod history;
pub mod scratch;
pub mod tenant;

//! How the engine does things on the shards.

pub(crate) mod collisions;
pub(crate) mod copy;
pub(crate) mod delete;
pub(crate) mod fence;
pub(crate) mod lock;
pub(crate) mod owner_token;
pub(crate) mod raw_pipe;
pub(crate) mod references;
pub(crate) mod replay;
pub(crate) mod sequences;
pub(crate) mod shard_schema;
pub(crate) mod verify;

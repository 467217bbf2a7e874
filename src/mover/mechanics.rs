//! How the engine does its work on the shards, whatever the phase: copying a
//! table (`copy/`), the write fence and change capture (`fence/`), replaying
//! captured changes (`replay/`), fingerprints and their comparison
//! (`verify/`), sequences, foreign keys, key collisions, deleting a website's
//! rows, ownership of a move on a shard, and where a move's shards are.
//! Nothing here knows the order of the phases, and nothing here imports them.

pub(crate) mod collisions;
pub(crate) mod copy;
pub(crate) mod delete;
pub(crate) mod fence;
pub(crate) mod lock;
pub(crate) mod owner_token;
pub(crate) mod raw_pipe;
pub(crate) mod references;
pub(crate) mod replay;
pub(crate) mod routes;
pub(crate) mod sequences;
pub(crate) mod shard_schema;
pub(crate) mod traces;
pub(crate) mod verify;

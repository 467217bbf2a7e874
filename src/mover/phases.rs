//! The phases of a move.

pub(crate) mod attempt;
pub(crate) mod catch_up;
pub(crate) mod cleanup;
pub(crate) mod cutover;
pub(crate) mod freeze;
pub(crate) mod thaw;
pub(crate) mod verify;

//! What the HTTP API and the dashboard share, below both of them (`api` mounts
//! the dashboard, so neither can hold it): one mapping of every error to a
//! status, a stable `code` and a message — rendered by the API as
//! `{"error":{"code","message"}}` and by the dashboard as its error page or a
//! form's inline error — and the one read of a move's view that both render.

mod failure;
mod move_read;

pub use failure::Failure;
pub use move_read::read_move;

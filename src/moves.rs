//! One function per use case on a move — request, preview, cancel, finalize —
//! each owning its transaction and answering with one error type
//! ([`MovesError`]). The API, the dashboard, the CLI and rebalance plans call
//! these and only map the result, so the copies cannot drift apart.

mod cancel;
mod error;
mod finalize;
mod preview;
mod request;
mod requester;

pub use cancel::cancel;
pub use error::MovesError;
pub use finalize::finalize;
pub use preview::preview;
pub use request::{Origin, request};
pub use requester::requester;

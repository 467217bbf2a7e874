//! The vocabulary of a move, apart from where it is stored: the move as
//! recorded, its status, phase and mode, and a request for one. `control` (the
//! repository) and every layer above import it; it imports only `ids`.

mod move_record;
mod move_request;
mod status;

pub use move_record::MoveRecord;
pub use move_request::MoveRequest;
pub use status::{MoveMode, NoticeStatus, Phase, Status};

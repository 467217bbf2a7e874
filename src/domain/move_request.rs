//! What an admin asks for: a website, where to, and how. Its requester is an
//! `EmailAddress` parsed where the request enters (`moves::requester`), so
//! nothing deeper checks it again.

use super::MoveMode;
use crate::ids::{EmailAddress, ShardName, WebsiteId};

#[derive(Debug, Clone)]
pub struct MoveRequest {
    pub website: WebsiteId,
    pub target: ShardName,
    pub keep_source: bool,
    pub batch_rows: Option<u32>,
    pub requested_by: Option<EmailAddress>,
    pub notes: Option<String>,
    pub mode: MoveMode,
}

//! A move's view for an answer over HTTP: read in one round trip on a pooled
//! connection (given back before rendering), or `unknown_migration` (404) as
//! both the API and the dashboard answer.

use super::Failure;
use crate::app::App;
use crate::control::migrations::view::{self, MoveView};
use crate::ids::MoveId;

pub async fn read_move(app: &App, id: MoveId) -> Result<MoveView, Failure> {
    let mut conn = app.control_pool().acquire().await?;
    view::read(&mut conn, id).await?.ok_or_else(|| {
        Failure::not_found(
            "unknown_migration",
            format!("migration {id} does not exist"),
        )
    })
}

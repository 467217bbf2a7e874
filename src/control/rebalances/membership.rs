//! Which plan a move belongs to, read from the move itself.
//!
//! A plan's row names its move only after the move is requested, in a later
//! transaction (`set_move`), so a move that ends quickly — or whose plan step
//! died in between — may end before its plan names it. The request id the
//! plan's step gives every move it requests, `rebalance-<plan>`, is written in
//! the transaction that creates the move, so it is there however soon the
//! move ends. It is also a caller's `X-Request-Id`, so the plan must hold the
//! move's website too: a stray request id alone makes no move a plan's.

use sqlx::PgConnection;

use crate::ids::MoveId;

/// The state of the plan move `id` belongs to, if it belongs to one.
pub async fn plan_state_of_move(
    conn: &mut PgConnection,
    id: MoveId,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT r.state FROM shardmover.migrations m
           JOIN shardmover.rebalance_moves p
             ON p.website_id = m.website_id AND m.request_id = 'rebalance-' || p.rebalance_id
           JOIN shardmover.rebalances r ON r.id = p.rebalance_id
          WHERE m.id = $1",
    )
    .bind(id.get())
    .fetch_optional(conn)
    .await
}

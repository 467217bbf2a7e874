//! The phases of a move, one file each, in the order `walk` runs them:
//!
//! | phase | file | offline | online |
//! |---|---|---|---|
//! | preflight | `preflight.rs` | ✓ | ✓ |
//! | capturing the website's changes | `capture.rs` | | ✓ |
//! | copying | `copy.rs` | fence up first | while it takes writes |
//! | catching up | `catch_up.rs` | | ✓ |
//! | the freeze (fence up, drain) | `freeze.rs`, `thaw.rs` if it fails | | ✓ |
//! | verifying | `verify.rs` | every row | rows changes touched |
//! | cutover | `cutover.rs` | ✓ | ✓ |
//! | cleanup | `cleanup.rs` | ✓ | ✓ |
//!
//! Each file's `run` takes the attempt's `PhaseContext` (`context.rs`: the
//! attempt, its two shards' pools, the plan once discovered, the settings),
//! does its phase, times it and records the next; the phase's steps are
//! methods of the context in the same file. Rolling back a failed move ends
//! it, which is `Mover`'s (`../rollback.rs`). Phases use the checks and the
//! mechanics; neither imports a phase.

mod attempt;
mod capture;
mod catch_up;
mod cleanup;
mod context;
mod copy;
mod cutover;
mod freeze;
mod preflight;
mod thaw;
mod verify;

use std::time::Instant;

use crate::domain::{MoveMode, Phase};
use crate::mover::error::MoveError;
pub(crate) use attempt::Attempt;
pub(crate) use context::PhaseContext;

/// Walks the move from the phase it is in to the end of its cleanup. Each
/// phase runs only if the move is at it, so a resumed attempt starts wherever
/// the last one stopped; each records the next when it is done.
pub(crate) async fn walk(cx: &mut PhaseContext<'_, '_>) -> Result<(), MoveError> {
    let online = cx.record().mode == MoveMode::Online;
    if cx.phase() <= Phase::Preflight {
        preflight::run(cx).await?;
    }
    if cx.phase() == Phase::Capturing {
        capture::run(cx).await?;
    }
    if online && cx.phase().is_frozen() {
        // Stopped inside a freeze: never drain what built up since with
        // the fence up; catch up first.
        thaw::run(cx).await?;
    }
    if cx.phase() == Phase::Copying {
        copy::run(cx).await?;
    }
    if cx.phase() == Phase::CatchingUp {
        catch_up::run(cx).await?;
    }
    if online {
        let started = Instant::now();
        if let Err(error) = frozen_to_cutover(cx).await {
            return Err(thaw::after(cx, error).await);
        }
        cx.attempt.timings.freeze = started.elapsed();
    } else {
        verify_and_cut_over(cx).await?;
    }
    if cx.phase() == Phase::Cleanup {
        cleanup::run(cx).await?;
    }
    Ok(())
}

/// An online move from its freeze to the registry switch, the fence up
/// throughout.
async fn frozen_to_cutover(cx: &mut PhaseContext<'_, '_>) -> Result<(), MoveError> {
    if cx.phase() == Phase::Freezing {
        freeze::run(cx).await?;
    }
    verify_and_cut_over(cx).await
}

async fn verify_and_cut_over(cx: &mut PhaseContext<'_, '_>) -> Result<(), MoveError> {
    if cx.phase() == Phase::Verifying {
        verify::run(cx).await?;
    }
    if cx.phase() == Phase::Cutover {
        cutover::run(cx).await?;
    }
    Ok(())
}

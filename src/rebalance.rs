//! Fleet plans: drain a shard, balance the fleet, fill a new shard, or move a
//! list of websites — always previewed first, then started with the preview's
//! confirmation token. Every step is an ordinary move (`moves::request`: same
//! engine, audit entry and notices). A plan lives in the control database and
//! is stepped by whichever worker process holds its lease (`driver`), so its
//! limits hold across every process; no new move starts while a shard it
//! touches says it is struggling (`throttle`).

mod commands;
pub mod driver;
mod error;
mod estimate;
mod fleet;
pub mod planner;
mod preview;
mod rates;
mod request;
mod start;
mod step;
mod throttle;
mod view;
mod window;

pub use commands::{Command, command};
pub use error::RebalanceError;
pub use planner::{AddBy, Kind, ListedMove, Measure};
pub use preview::{Preview, PreviewMove, preview};
pub use rates::{PairRate, RateFrom};
pub use request::{PlanOptions, PlanRequest};
pub use start::start;
pub use view::{PlanSummary, PlanView, list, show};
pub use window::Window;

//! A plan request, parsed and checked once where it enters (API, CLI, dashboard).

use serde::Serialize;

use super::window::Window;
use super::{Kind, ListedMove, RebalanceError};
use crate::config::Settings;

/// The most moves of one plan running at once.
pub const MAX_CONCURRENT: u32 = 32;

#[derive(Debug, Clone)]
pub struct PlanRequest {
    pub kind: Kind,
    /// Checked by `moves::requester`.
    pub requested_by: String,
    pub options: PlanOptions,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct PlanOptions {
    /// Moves of the plan running at once (default 2).
    pub max_concurrent: u32,
    /// Moves of the plan reading from or writing to one shard at once (default 1).
    pub per_shard: u32,
    /// Moves start only inside this UTC window.
    #[serde(serialize_with = "window_text")]
    pub window: Option<Window>,
    /// A failed move stops the plan (default: the plan goes on).
    pub stop_on_failure: bool,
}

fn window_text<S: serde::Serializer>(w: &Option<Window>, s: S) -> Result<S::Ok, S::Error> {
    match w {
        Some(w) => s.serialize_str(&w.to_string()),
        None => s.serialize_none(),
    }
}

impl PlanOptions {
    pub fn parse(
        max_concurrent: Option<u32>,
        per_shard: Option<u32>,
        window: Option<&str>,
        stop_on_failure: Option<bool>,
    ) -> Result<Self, RebalanceError> {
        let max_concurrent = max_concurrent.unwrap_or(2);
        if !(1..=MAX_CONCURRENT).contains(&max_concurrent) {
            return Err(RebalanceError::Invalid(format!(
                "max_concurrent must be between 1 and {MAX_CONCURRENT}, not {max_concurrent}"
            )));
        }
        let per_shard = per_shard.unwrap_or(1);
        if !(1..=MAX_CONCURRENT).contains(&per_shard) {
            return Err(RebalanceError::Invalid(format!(
                "per_shard must be between 1 and {MAX_CONCURRENT}, not {per_shard}"
            )));
        }
        let window = window
            .filter(|w| !w.trim().is_empty())
            .map(Window::parse)
            .transpose()
            .map_err(RebalanceError::Invalid)?;
        Ok(Self {
            max_concurrent,
            per_shard,
            window,
            stop_on_failure: stop_on_failure.unwrap_or(false),
        })
    }
}

impl PlanRequest {
    /// The request with its requester checked (an email address, allowed to ask).
    pub fn new(
        settings: &Settings,
        kind: Kind,
        requested_by: &str,
        options: PlanOptions,
    ) -> Result<Self, RebalanceError> {
        Ok(Self {
            kind,
            requested_by: crate::moves::requester(settings, requested_by)?.into(),
            options,
        })
    }

    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Drain { .. } => "drain",
            Kind::Balance { .. } => "balance",
            Kind::AddShard { .. } => "add_shard",
            Kind::List { .. } => "list",
        }
    }
}

/// `WEBSITE:SHARD`, as the CLI and the dashboard take a listed move.
impl std::str::FromStr for ListedMove {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("each move is WEBSITE:SHARD, not {text:?}");
        let (website, shard) = text.trim().split_once(':').ok_or_else(bad)?;
        Ok(Self {
            website_id: website.trim().parse().map_err(|_| bad())?,
            target_shard: shard.trim().to_owned(),
        })
    }
}

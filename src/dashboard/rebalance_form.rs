//! The *Plan a rebalance* form as the operator filled it in (text, so a
//! refused form comes back as typed), and the plan request it stands for —
//! made by `PlanRequest::new` and `PlanOptions::parse` like the API's and
//! the CLI's, so the page refuses what they refuse, with the same code.

use serde::{Deserialize, Serialize};

use super::PageError;
use crate::config::Settings;
use crate::rebalance::{Kind, ListedMove, PlanOptions, PlanRequest, RebalanceError};

#[derive(Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct PlanForm {
    #[serde(skip_serializing)]
    pub csrf: String,
    /// drain | balance | add_shard | list
    pub kind: String,
    /// drain and add_shard: the shard.
    pub shard: String,
    /// balance: websites | rows | bytes
    pub measure: String,
    /// balance: how far from the mean a shard may stay, in percent of it.
    pub threshold: String,
    /// add_shard: jump_hash | capacity
    pub by: String,
    /// list: `WEBSITE:SHARD`, one a line (or comma-separated).
    pub moves: String,
    pub requested_by: String,
    pub max_concurrent: String,
    pub per_shard: String,
    /// `22:00-06:00` (UTC), or empty for any time.
    pub window: String,
    /// A checkbox: present (`on`) when ticked.
    pub stop_on_failure: String,
    /// Start only: the preview's token, its number of moves, this session's
    /// ticket over both, and what the operator typed.
    #[serde(skip_serializing)]
    pub confirmation_token: String,
    #[serde(skip_serializing)]
    pub move_count: String,
    #[serde(skip_serializing)]
    pub ticket: String,
    #[serde(skip_serializing)]
    pub confirm: String,
}

impl Default for PlanForm {
    /// The blank form: a drain, and the API's defaults for the rest.
    fn default() -> Self {
        Self {
            csrf: String::new(),
            kind: "drain".into(),
            shard: String::new(),
            measure: "websites".into(),
            threshold: "10".into(),
            by: "jump_hash".into(),
            moves: String::new(),
            requested_by: String::new(),
            max_concurrent: "2".into(),
            per_shard: "1".into(),
            window: String::new(),
            stop_on_failure: String::new(),
            confirmation_token: String::new(),
            move_count: String::new(),
            ticket: String::new(),
            confirm: String::new(),
        }
    }
}

impl PlanForm {
    /// The plan this form asks for, with its requester checked.
    pub fn request(&self, settings: &Settings) -> Result<PlanRequest, PageError> {
        let options = PlanOptions::parse(
            whole(&self.max_concurrent, "max_concurrent")?,
            whole(&self.per_shard, "per_shard")?,
            Some(self.window.as_str()),
            Some(!self.stop_on_failure.is_empty()),
        )?;
        Ok(PlanRequest::new(
            settings,
            self.kind()?,
            &self.requested_by,
            options,
        )?)
    }

    fn kind(&self) -> Result<Kind, RebalanceError> {
        let shard = self.shard.trim().to_owned();
        let named = !shard.is_empty();
        Ok(match self.kind.as_str() {
            "drain" if named => Kind::Drain { shard },
            "add_shard" if named => Kind::AddShard {
                shard,
                by: word(&self.by, "by: jump_hash or capacity")?,
            },
            "drain" | "add_shard" => return Err(invalid("choose the shard".into())),
            "balance" => Kind::Balance {
                by: word(&self.measure, "measure: websites, rows or bytes")?,
                threshold: percent(&self.threshold)?,
            },
            "list" => Kind::List {
                moves: listed(&self.moves)?,
            },
            other => {
                return Err(invalid(format!(
                    "kind must be drain, balance, add_shard or list, not {other:?}"
                )));
            }
        })
    }
}

fn invalid(message: String) -> RebalanceError {
    RebalanceError::Invalid(message)
}

/// An empty field is the API's default.
fn whole(text: &str, name: &str) -> Result<Option<u32>, RebalanceError> {
    match text.trim() {
        "" => Ok(None),
        text => text
            .parse()
            .map(Some)
            .map_err(|_| invalid(format!("{name} must be a whole number, not {text:?}"))),
    }
}

/// One of a snake_case enum's words, as the API spells it.
fn word<T: serde::de::DeserializeOwned>(text: &str, expected: &str) -> Result<T, RebalanceError> {
    serde_json::from_value(text.trim().into())
        .map_err(|_| invalid(format!("expected {expected}, not {text:?}")))
}

/// `10` (percent) → 0.1 of the mean; the planner checks the range.
fn percent(text: &str) -> Result<f64, RebalanceError> {
    let value: f64 = text.trim().parse().map_err(|_| {
        invalid(format!(
            "threshold must be a percentage such as 10, not {text:?}"
        ))
    })?;
    Ok(value / 100.0)
}

fn listed(text: &str) -> Result<Vec<ListedMove>, RebalanceError> {
    let entries = text.split([',', '\n']).map(str::trim);
    entries
        .filter(|entry| !entry.is_empty())
        .map(|entry| entry.parse().map_err(invalid))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_plan_reads_one_move_a_line_or_comma_separated_and_names_a_bad_entry() {
        let moves = listed("7:shard_2\r\n 8 : shard_3,\n\n9:shard_2").unwrap();
        let pairs: Vec<(i64, &str)> = moves
            .iter()
            .map(|m| (m.website_id, m.target_shard.as_str()))
            .collect();
        assert_eq!(pairs, [(7, "shard_2"), (8, "shard_3"), (9, "shard_2")]);
        let error = listed("7:shard_2\nseven:shard_2").unwrap_err();
        assert!(error.to_string().contains("\"seven:shard_2\""), "{error}");
    }

    #[test]
    fn the_form_speaks_percent_and_leaves_empty_numbers_to_the_defaults() {
        assert_eq!(percent(" 12.5 ").unwrap(), 0.125);
        assert_eq!(whole("", "per_shard").unwrap(), None);
        assert!(whole("two", "per_shard").is_err());
        let form = PlanForm {
            kind: "balance".into(),
            measure: "rows".into(),
            ..PlanForm::default()
        };
        assert!(matches!(
            form.kind().unwrap(),
            Kind::Balance { by: crate::rebalance::Measure::Rows, threshold } if threshold == 0.1
        ));
        let unnamed = PlanForm::default().kind().unwrap_err();
        assert_eq!(unnamed.code(), "invalid_plan");
    }
}

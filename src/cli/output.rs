//! What the subcommands print: a move's live progress, its preflight report
//! and outcome, and a plan's preview and progress — for people on a terminal,
//! and as JSON with `--json`. The subcommands themselves are `cli`'s other files.

pub(super) mod plan;
pub(super) mod progress_bar;
pub(super) mod report;

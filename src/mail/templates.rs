//! The notice templates, compiled into the binary from `templates/mail/` so a
//! deployed binary needs no files beside it. Names ending in `.html` are
//! HTML-escaped (minijinja's default), so an error message cannot inject markup.

use std::sync::LazyLock;

use minijinja::Environment;
use serde::Serialize;

use super::MailError;

pub const SUBJECT: &str = "subject.txt";
pub const TEXT: &str = "move_notice.txt";
pub const HTML: &str = "move_notice.html";

/// The three templates of one kind of notice.
#[derive(Debug, Clone, Copy)]
pub struct Templates {
    pub subject: &'static str,
    pub text: &'static str,
    pub html: &'static str,
}

/// A move's notice.
pub const MOVE: Templates = Templates {
    subject: SUBJECT,
    text: TEXT,
    html: HTML,
};

/// A plan's summary.
pub const PLAN: Templates = Templates {
    subject: "plan_subject.txt",
    text: "plan_notice.txt",
    html: "plan_notice.html",
};

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_keep_trailing_newline(true);
    for (name, source) in [
        (SUBJECT, include_str!("../../templates/mail/subject.txt")),
        (TEXT, include_str!("../../templates/mail/move_notice.txt")),
        (HTML, include_str!("../../templates/mail/move_notice.html")),
        (
            PLAN.subject,
            include_str!("../../templates/mail/plan_subject.txt"),
        ),
        (
            PLAN.text,
            include_str!("../../templates/mail/plan_notice.txt"),
        ),
        (
            PLAN.html,
            include_str!("../../templates/mail/plan_notice.html"),
        ),
    ] {
        env.add_template(name, source)
            .expect("the mail templates are checked by the unit tests");
    }
    env
});

pub fn render(template: &'static str, context: impl Serialize) -> Result<String, MailError> {
    TEMPLATES
        .get_template(template)
        .and_then(|t| t.render(context))
        .map_err(|source| MailError::Template { template, source })
}

//! `analyze --html report.html`: one self-contained page to hand over. It
//! opens offline from a file: the style sheet, the script and every picture
//! (inline SVG, drawn in [`draw`]) are in the page, and nothing is fetched.
//!
//! What it shows: the verdict and the grouped summary; each failed call's
//! story with its waterfall (dns, connect, tls, send, wait, transfer to
//! scale) and, for the first [`MAX_LADDERS`] calls, a ladder of its packets
//! ([`ladder`], from the capture read again, the same frames `--evidence`
//! takes); charts over time ([`timeline`]); the connection, HTTP, DNS and
//! TLS tables, sortable and filterable.
//!
//! Safe on hostile captures: every packet-derived string is escaped by the
//! template (askama escapes HTML by default) or by [`draw::esc`], control
//! characters made visible first, and a Content-Security-Policy allows only
//! the page's own style sheet and script, by hash: a `<script>` a capture
//! smuggles into a header or a name would not run even if it got through.
//!
//! Bounded: every list is cut ([`page::MAX_STORIES`], [`page::MAX_GROUPS`],
//! [`collect::PROBLEM_ROWS`] and [`collect::HEALTHY_ROWS`] per table,
//! [`timeline::BUCKETS`], [`ladder::MAX_ARROWS`]); the page does not grow
//! with the number of connections.

pub mod collect;
pub mod draw;
pub mod ladder;
mod page;
pub mod timeline;

use std::collections::HashMap;
use std::path::Path;

use askama::Template;

pub use collect::HtmlCollector;
pub use page::Inputs;

use crate::analysis::ConvSpan;
use crate::diagnose::story::Story;
use crate::diagnose::Finding;

/// Failed calls shown, the worst first.
pub const MAX_SHOWN_STORIES: usize = page::MAX_STORIES;

/// Failed calls that get a ladder of their packets.
pub const MAX_LADDERS: usize = 12;

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    /// Writing the file failed.
    #[error("cannot write the HTML report {path}: {reason}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The template could not be rendered (a bug: the template is checked
    /// when the program is built).
    #[error("cannot render the HTML report: {0}")]
    Render(String),
}

/// The stories the page shows, by index: one of each kind of failure
/// (root finding and target) first, worst first, then the rest in order,
/// at most [`MAX_SHOWN_STORIES`]: a thousand resets to one server do not
/// hide the one TLS failure behind them.
pub fn shown_stories(stories: &[Story]) -> Vec<usize> {
    let mut seen = std::collections::HashSet::new();
    let mut first: Vec<usize> = Vec::new();
    let mut rest: Vec<usize> = Vec::new();
    for (i, s) in stories.iter().enumerate() {
        let root = s.findings.first().copied().unwrap_or("");
        if seen.insert((root, s.target.as_str())) {
            first.push(i);
            if first.len() == MAX_SHOWN_STORIES {
                break;
            }
        } else if rest.len() < MAX_SHOWN_STORIES {
            rest.push(i);
        }
    }
    first.extend(rest);
    first.truncate(MAX_SHOWN_STORIES);
    first
}

/// The connections whose packets the ladders of the first stories shown
/// draw.
pub fn ladder_conns(stories: &[Story], spans: &HashMap<u64, ConvSpan>) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    for s in shown_stories(stories)
        .into_iter()
        .filter_map(|i| stories.get(i))
    {
        if out.len() >= MAX_LADDERS {
            break;
        }
        if let Some(c) = s.conn.filter(|c| spans.contains_key(c) && !out.contains(c)) {
            out.push(c);
        }
    }
    out
}

/// The ladders of `conns`, read from the capture files again.
pub fn ladders(
    paths: &[String],
    findings: &[Finding],
    spans: &HashMap<u64, ConvSpan>,
    conns: &[u64],
) -> Result<HashMap<u64, ladder::Ladder>, crate::evidence::EvidenceError> {
    Ok(ladder::ladders(paths, findings, spans, conns)?
        .into_iter()
        .map(|l| (l.conn, l))
        .collect())
}

/// Renders the page.
pub fn render(inputs: Inputs<'_>) -> Result<String, HtmlError> {
    page::build(inputs)
        .render()
        .map_err(|e| HtmlError::Render(e.to_string()))
}

/// Renders the page into `path`; returns its size in bytes.
pub fn write(path: &Path, inputs: Inputs<'_>) -> Result<u64, HtmlError> {
    let html = render(inputs)?;
    std::fs::write(path, html.as_bytes()).map_err(|e| HtmlError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(html.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::story::Step;
    use crate::diagnose::Severity;

    fn story(kind: &'static str, target: &str) -> Story {
        Story {
            conn: None,
            target: target.to_string(),
            step: Step::Transport,
            severity: Severity::Error,
            headline: String::new(),
            findings: vec![kind],
            first: 0,
            len: 1,
        }
    }

    #[test]
    fn one_story_of_each_kind_comes_before_the_repeats() {
        let mut stories: Vec<Story> = (0..100)
            .map(|_| story("tcp.reset_by_server", "api"))
            .collect();
        stories.push(story("tls.unknown_ca", "api"));
        stories.push(story("tcp.reset_by_server", "db"));
        let shown = shown_stories(&stories);
        assert_eq!(shown.len(), MAX_SHOWN_STORIES);
        assert_eq!(&shown[..3], &[0, 100, 101]);
        assert_eq!(shown[3], 1, "then the repeats, in order");
    }
}

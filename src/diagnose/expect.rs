//! `--expect` findings: a rule that does not hold on a transaction in its scope
//! is `http.expectation_failed` (error); a rule the capture cannot decide (the
//! body not captured in full, too many header fields, a timing not measurable)
//! is `http.expectation_unchecked` (warning), saying why: never a silent pass,
//! never a failure for want of data.
//!
//! A request that got no response is not checked at all: `http.no_response`
//! already reports it, and a rule about a response that never came adds nothing.
//! `request ...` rules read the request's kept fields and body (a transaction
//! whose request the capture missed leaves them unchecked, saying so).
//! A response whose parsing was lost (no `gave_up`, no status) gets one
//! unchecked finding per rule.

use std::time::Duration;

use super::http::endpoint;
use super::http::{call_text, evidence_frames};
use super::{Finding, Severity};
use crate::app::http::HttpTransaction;
use crate::base::escape::escape_str;
use crate::expect::{Checked, Expectations, Outcome, Request, TxView};

/// The kind of a rule that did not hold.
pub const FAILED: &str = "http.expectation_failed";
/// The kind of a rule the data could not decide.
pub const UNCHECKED: &str = "http.expectation_unchecked";

/// Every expectation finding for one transaction of `analyze`.
pub fn diagnose(t: &HttpTransaction, rules: &Expectations) -> Vec<Finding> {
    if rules.is_empty() || (t.status.is_none() && t.gave_up.is_some()) {
        return Vec::new();
    }
    let req = Request {
        method: t.method.as_deref(),
        host: t.host.as_deref(),
        path: t.path.as_deref(),
        server: Some(t.server.ip()),
    };
    let nanos = |n: i64| Duration::from_nanos(u64::try_from(n).unwrap_or(0));
    let view = TxView::new(
        t.status,
        t.response_data.as_deref(),
        t.total_ns().map(nanos),
        t.wait_ns().map(nanos),
    )
    .with_request(t.request_data.as_deref(), t.method.is_some());
    let call = call_text(t);
    let frames = evidence_frames(t);
    rules
        .check(&req, &view)
        .iter()
        .map(|c| {
            let (kind, severity, summary, next_step) = describe(&call, t.status, c);
            Finding {
                kind,
                severity,
                summary,
                next_step,
                frames: frames.clone(),
                conn: Some(t.conn),
                client: Some(t.client),
                server: Some(t.server),
                time: t.start,
                endpoint: endpoint(t),
                goroutines: Vec::new(),
            }
        })
        .collect()
}

/// Kind, severity, summary and next step of a rule that did not pass on the
/// call `call` (escaped already) answered with `status`. Shared with `probe`.
pub fn describe(
    call: &str,
    status: Option<u16>,
    checked: &Checked<'_>,
) -> (&'static str, Severity, String, String) {
    let rule = escape_str(&checked.expectation.rule.text);
    let answered = status.map_or_else(|| " -> no response".to_string(), |s| format!(" -> {s}"));
    let found = match &checked.outcome {
        Outcome::Unchecked(why) => return (
            UNCHECKED,
            Severity::Warning,
            format!("{call}{answered}: could not check '{rule}': {why}"),
            "capture the whole response (full snap length, no loss at the capture point, the capture running before the request), or check the URL with netsleuth probe --expect".into(),
        ),
        Outcome::Fail(found) => found.as_str(),
        // `Expectations::check` returns only rules that did not pass.
        Outcome::Pass => "it held",
    };
    (
        FAILED,
        Severity::Error,
        format!("{call}{answered}: expected '{rule}', but {found}"),
        "the API answered differently than expected: compare the response with its contract, and check the server's logs for this request".into(),
    )
}

//! `--expect` rules: API data checks on HTTP transactions, for `analyze`
//! (plaintext or decrypted transactions from the capture) and `probe` (its own
//! exchange). A rule that does not hold on a transaction in its scope becomes an
//! `http.expectation_failed` finding (`crate::diagnose::expect`).
//!
//! # The language
//!
//! ```text
//! rule     = ["response"] response-rule | "request" message-rule
//! response-rule = "status" status-test | message-rule
//!          | ("time" | "ttfb") order DURATION
//! message-rule  = "header" NAME header-test
//!          | "json" PATH json-test
//!          | "body" text-op TEXT
//! status-test = cmp INTEGER | "in" INTEGER ".." INTEGER      (inclusive range)
//! header-test = "exists" | "missing" | ("==" | "!=") TEXT | text-op TEXT
//! json-test   = "exists" | "missing" | ("==" | "!=") JSON | order NUMBER | text-op TEXT
//! cmp      = "==" | "!=" | order          order   = "<" | "<=" | ">" | ">="
//! text-op  = "~" | "!~"                   (~: contains, ASCII case-insensitive)
//! TEXT     = "double-quoted, with \" \\ \n \t escapes" | bare-word (no spaces)
//! PATH     = "." | ( "." KEY | "[" INDEX "]" | "[" "quoted key" "]" )+
//!            KEY: letters, digits, _ - $ @ :   INDEX: 0, 1, ... or -1 (the last)
//!            (a path ends at a space or an operator: `json .a==1` works)
//! JSON     = a JSON literal: 42, -1.5, true, false, null, "text", [..], {..}
//! DURATION = 500ms, 2s, 1.5m ... (a bare number is seconds)
//! ```
//!
//! Meanings:
//! * `status`: the final status code (after any 1xx).
//! * `header NAME`: the final response's header fields named NAME
//!   (case-insensitive); with several, `exists`/`==`/`~` hold when one field
//!   does, `!=`/`!~` when none does. `==` compares whole trimmed values exactly.
//! * `json PATH`: the response body parsed as JSON (after gzip/deflate
//!   Content-Encoding), then the path: `.data.items[0].id`; `.` is the whole
//!   document (`json . exists`: the body is JSON). A body that is not JSON fails
//!   every json rule. Numbers compare by value (`1 == 1.0`); `~` only holds on
//!   strings.
//! * `body ~ TEXT`: the (decoded) body contains TEXT.
//! * `time`: request's first byte to the response's last; `ttfb`: request's last
//!   byte to the response's first (the wait). Set-up (DNS, connect, TLS) is not
//!   part of either.
//! * `request header|json|body ...`: the same tests on the request the client
//!   sent (its header fields, its body parsed as JSON after gzip/deflate): e.g.
//!   `request json .amount > 0`, `request header authorization exists`.
//!   `response ...` is the explicit form of the default.
//!
//! # Scope
//!
//! `--for 'host H path P method M'` (each part optional, any order; `*` in H and
//! P matches any run of characters; `all` matches everything) applies to every
//! `--expect` after it on the command line, up to the next `--for`; rules
//! before the first `--for` apply to every transaction. Host matches the Host
//! header (its port ignored unless H has one; the server address when the
//! request had no Host), case-insensitive; path matches the request target
//! without its query string unless P has a `?`; method is case-insensitive.
//! [`Expectations::bind`] does the binding from argument positions.
//!
//! # Outcomes
//!
//! Each rule on each transaction in scope [passes](Outcome::Pass),
//! [fails](Outcome::Fail) with what was found, or [cannot be
//! checked](Outcome::Unchecked) with why: the body was not captured in full (too
//! large, a gap, cut short, an encoding netsleuth does not decode), the header
//! fields were more than were kept, or a timing was not measurable. Nothing
//! passes silently for want of data, and nothing fails for it either.
//!
//! This module has no I/O and no dependency on the `probe` feature; the parser
//! and the evaluator never panic on any input (proptests and a fuzz target).

mod body;
mod eval;
mod parse;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod request_tests;
mod scope;
#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

pub use eval::{Outcome, TxView};
pub use parse::RuleError;
pub use scope::{Request, Scope};

use crate::app::http::KeepConfig;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Cmp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    /// Whether `a OP b` holds.
    pub fn holds<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

/// A test on text: a header value, a JSON string, the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextTest {
    /// `== "v"`: equal.
    Eq(String),
    /// `!= "v"`: not equal.
    Ne(String),
    /// `~ v`: contains, ASCII case-insensitive.
    Contains(String),
    /// `!~ v`: does not contain.
    NotContains(String),
}

/// What a header rule asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderTest {
    /// The field is present.
    Exists,
    /// The field is absent.
    Missing,
    /// A test on its value(s).
    Text(TextTest),
}

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    /// An object member.
    Key(String),
    /// An array element; negative counts from the end (`-1` is the last).
    Index(i64),
}

/// A JSON path such as `.data.items[0].id`; empty means the whole document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JsonPath(pub Vec<PathStep>);

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str(".");
        }
        if !matches!(self.0.first(), Some(PathStep::Key(k)) if parse::is_plain_key(k)) {
            // A path starts with a dot even when its first step is a bracket.
            f.write_str(".")?;
        }
        for step in &self.0 {
            match step {
                PathStep::Key(k) if parse::is_plain_key(k) => write!(f, ".{k}")?,
                PathStep::Key(k) => write!(f, "[{}]", serde_json::Value::from(k.as_str()))?,
                PathStep::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// What a json rule asks of the value at its path.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonTest {
    /// The path leads to a value (`null` counts).
    Exists,
    /// The path leads nowhere.
    Missing,
    /// Equal to a JSON value.
    Eq(serde_json::Value),
    /// Not equal to a JSON value (a missing value is not equal).
    Ne(serde_json::Value),
    /// A number compared with `<`, `<=`, `>` or `>=`.
    Order(Cmp, f64),
    /// A string containing the text (ASCII case-insensitive).
    Contains(String),
    /// Not a string containing the text.
    NotContains(String),
}

/// What a rule checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// `status OP N`.
    Status(Cmp, u16),
    /// `status in A..B`, inclusive.
    StatusIn(u16, u16),
    /// `header NAME ...`.
    Header {
        /// The field name as written.
        name: String,
        /// The test.
        test: HeaderTest,
    },
    /// `json PATH ...`.
    Json {
        /// The path.
        path: JsonPath,
        /// The test.
        test: JsonTest,
    },
    /// `body ~ TEXT` (`Contains`) or `body !~ TEXT` (`NotContains`).
    Body(TextTest),
    /// `time OP D`: request first byte → response last byte.
    Time(Cmp, Duration),
    /// `ttfb OP D`: request last byte → response first byte.
    Ttfb(Cmp, Duration),
    /// `request header|json|body ...`: the inner check (one of those three) on
    /// the request rather than the response.
    Request(Box<Check>),
}

impl Check {
    /// What of the response (or request) this check reads.
    pub fn needs(&self) -> KeepConfig {
        match self {
            Check::Header { .. } => KeepConfig {
                headers: true,
                ..KeepConfig::default()
            },
            Check::Json { .. } | Check::Body(_) => KeepConfig {
                headers: true,
                body: true,
                ..KeepConfig::default()
            },
            Check::Request(inner) => {
                let of_response = inner.needs();
                KeepConfig {
                    request_headers: of_response.headers,
                    request_body: of_response.body,
                    ..KeepConfig::default()
                }
            }
            _ => KeepConfig::default(),
        }
    }
}

/// One parsed `--expect` rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The rule as the user wrote it (trimmed; escape before display).
    pub text: String,
    /// What it checks.
    pub check: Check,
}

impl Rule {
    /// Parses one rule; the error carries the rule and the character position.
    pub fn parse(text: &str) -> Result<Rule, RuleError> {
        parse::rule(text)
    }
}

/// A rule and the scope it applies in.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// Which transactions it applies to.
    pub scope: Scope,
    /// The rule.
    pub rule: Rule,
}

/// Every rule of one command, in command-line order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Expectations {
    /// The rules with their scopes.
    pub items: Vec<Expectation>,
}

/// A rule that did not pass on a transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked<'a> {
    /// The rule.
    pub expectation: &'a Expectation,
    /// [`Outcome::Fail`] or [`Outcome::Unchecked`].
    pub outcome: Outcome,
}

impl Expectations {
    /// Parses `--expect` rules and `--for` scopes given with their positions on
    /// the command line (clap's `indices_of`): each rule gets the nearest `--for`
    /// before it. A `--for` followed by no rule (before the next `--for`) is an
    /// error, as is any rule or scope that does not parse.
    pub fn bind(rules: &[(usize, String)], scopes: &[(usize, String)]) -> Result<Self, RuleError> {
        let mut scopes: Vec<(usize, Scope)> = scopes
            .iter()
            .map(|(i, s)| Ok((*i, Scope::parse(s)?)))
            .collect::<Result<_, RuleError>>()?;
        scopes.sort_by_key(|(i, _)| *i);
        let mut rules: Vec<(usize, Rule)> = rules
            .iter()
            .map(|(i, r)| Ok((*i, Rule::parse(r)?)))
            .collect::<Result<_, RuleError>>()?;
        rules.sort_by_key(|(i, _)| *i);
        for (k, (at, scope)) in scopes.iter().enumerate() {
            let next = scopes.get(k + 1).map_or(usize::MAX, |(i, _)| *i);
            if !rules.iter().any(|(i, _)| i > at && *i < next) {
                return Err(RuleError::unused_scope(&scope.text));
            }
        }
        let items = rules
            .into_iter()
            .map(|(at, rule)| Expectation {
                scope: scopes
                    .iter()
                    .rev()
                    .find(|(i, _)| *i < at)
                    .map(|(_, s)| s.clone())
                    .unwrap_or_default(),
                rule,
            })
            .collect();
        Ok(Expectations { items })
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// What of each response the rules read (nothing when there are none).
    pub fn needs(&self) -> KeepConfig {
        self.items
            .iter()
            .map(|e| e.rule.check.needs())
            .fold(KeepConfig::default(), KeepConfig::union)
    }

    /// Checks every rule whose scope matches `req` on `view`; returns those that
    /// did not pass, in rule order.
    pub fn check<'a>(&'a self, req: &Request<'_>, view: &TxView<'_>) -> Vec<Checked<'a>> {
        self.items
            .iter()
            .filter(|e| e.scope.matches(req))
            .filter_map(|e| match view.evaluate(&e.rule.check) {
                Outcome::Pass => None,
                outcome => Some(Checked {
                    expectation: e,
                    outcome,
                }),
            })
            .collect()
    }
}

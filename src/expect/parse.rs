//! The rule parser: a cursor over the rule's text with byte offsets, reporting
//! errors at character positions. Recursive descent over the grammar in the
//! module doc; every branch checks bounds, so no input can make it panic.

use std::fmt;

use super::{Check, Cmp, HeaderTest, JsonPath, JsonTest, PathStep, Rule, TextTest};
use crate::base::escape::escape_str;

/// A rule (or scope) that does not parse: the text, where, and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct RuleError {
    /// `--expect` or `--for`.
    pub flag: &'static str,
    /// The text as given.
    pub text: String,
    /// Character position (0-based) of the problem in `text`.
    pub pos: usize,
    /// What was wrong and, when there is one, the fix.
    pub message: String,
}

impl RuleError {
    /// An error at byte offset `byte` of `text` (converted to a character position).
    pub(crate) fn at(flag: &'static str, text: &str, byte: usize, message: String) -> RuleError {
        let byte = byte.min(text.len());
        let prefix = text.get(..byte).unwrap_or(text);
        RuleError {
            flag,
            text: text.to_string(),
            pos: prefix.chars().count(),
            message,
        }
    }

    /// A `--for` that scopes no rule.
    pub(crate) fn unused_scope(text: &str) -> RuleError {
        RuleError {
            flag: "--for",
            text: text.to_string(),
            pos: 0,
            message: "no --expect follows this --for: put --for before the rules it scopes".into(),
        }
    }
}

impl fmt::Display for RuleError {
    /// Three lines: the message, the rule (escaped), a caret under the position.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = escape_str(&self.text);
        let before: String = self.text.chars().take(self.pos).collect();
        let col = escape_str(&before).chars().count();
        write!(
            f,
            "bad {} (at character {}): {}\n    {}\n    {}^",
            self.flag,
            self.pos + 1,
            self.message,
            shown,
            " ".repeat(col)
        )
    }
}

/// Characters allowed in a bare JSON path key.
fn key_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '$' | '@' | ':')
}

/// True when `k` can be written as `.k` in a path.
pub(crate) fn is_plain_key(k: &str) -> bool {
    !k.is_empty() && k.chars().all(key_char)
}

fn tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// A cursor over a rule or scope.
pub(crate) struct Cursor<'a> {
    pub flag: &'static str,
    pub src: &'a str,
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(flag: &'static str, src: &'a str) -> Cursor<'a> {
        Cursor { flag, src, pos: 0 }
    }

    pub fn err(&self, byte: usize, message: impl Into<String>) -> RuleError {
        RuleError::at(self.flag, self.src, byte, message.into())
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or_default()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub fn ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    pub fn at_end(&mut self) -> bool {
        self.ws();
        self.pos >= self.src.len()
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// A run of non-space characters (possibly empty), after spaces.
    pub fn word(&mut self) -> (usize, &'a str) {
        self.ws();
        let rest = self.rest();
        let len = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let start = self.pos;
        self.pos += len;
        (start, rest.get(..len).unwrap_or_default())
    }

    /// A run of characters satisfying `ok`, after spaces.
    fn run(&mut self, ok: impl Fn(char) -> bool) -> (usize, &'a str) {
        self.ws();
        let rest = self.rest();
        let len = rest.find(|c: char| !ok(c)).unwrap_or(rest.len());
        let start = self.pos;
        self.pos += len;
        (start, rest.get(..len).unwrap_or_default())
    }

    /// Text: a double-quoted string with escapes, or a bare word.
    pub fn text(&mut self, what: &str) -> Result<String, RuleError> {
        self.ws();
        if self.peek() == Some('"') {
            return self.quoted();
        }
        let (start, w) = self.word();
        if w.is_empty() {
            return Err(self.err(
                start,
                format!("expected {what} (a word, or \"quoted text\")"),
            ));
        }
        Ok(w.to_string())
    }

    /// A double-quoted string at the cursor.
    fn quoted(&mut self) -> Result<String, RuleError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err(open, "this quote is never closed: add a closing \""));
            };
            let at = self.pos;
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.err(at, "a backslash ends the text: write \\\\ for one"));
                    };
                    self.pos += e.len_utf8();
                    out.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '"' | '\\' => e,
                        _ => {
                            return Err(self.err(
                                at,
                                format!("unknown escape \\{e}: use \\\", \\\\, \\n, \\t or \\r"),
                            ))
                        }
                    });
                }
                c => out.push(c),
            }
        }
    }

    /// An operator or operator word.
    fn op(&mut self) -> (usize, &'a str) {
        self.ws();
        let start = self.pos;
        for op in ["==", "!=", "<=", ">=", "!~", "<", ">", "~"] {
            if self.eat(op) {
                return (start, op);
            }
        }
        if self.rest().starts_with('=') {
            self.pos += 1;
            return (start, "=");
        }
        self.run(|c| c.is_ascii_alphabetic())
    }
}

/// Parses one rule.
pub(crate) fn rule(text: &str) -> Result<Rule, RuleError> {
    let trimmed = text.trim();
    let mut c = Cursor::new("--expect", text);
    let (mut start, mut subject) = c.run(|ch| ch.is_ascii_alphabetic());
    let mut request = false;
    if subject.eq_ignore_ascii_case("response") || subject.eq_ignore_ascii_case("request") {
        request = subject.eq_ignore_ascii_case("request");
        let part = subject.to_ascii_lowercase();
        (start, subject) = c.run(|ch| ch.is_ascii_alphabetic());
        let allowed = if request {
            "header, json or body"
        } else {
            "status, header, json, body, time or ttfb"
        };
        let ok = match subject.to_ascii_lowercase().as_str() {
            "header" | "json" | "body" => true,
            "status" | "time" | "ttfb" => !request,
            _ => false,
        };
        if !ok {
            let (at, w) = if subject.is_empty() {
                c.word()
            } else {
                (start, subject)
            };
            return Err(c.err(
                at,
                format!(
                    "{part} must be followed by {allowed}, not {:?}",
                    escape_str(w)
                ),
            ));
        }
    }
    let check = match subject.to_ascii_lowercase().as_str() {
        "status" => status(&mut c)?,
        "header" => header(&mut c)?,
        "json" => json(&mut c)?,
        "body" => Check::Body(text_op(&mut c, "body", false)?),
        "time" => timing(&mut c, "time").map(|(o, d)| Check::Time(o, d))?,
        "ttfb" => timing(&mut c, "ttfb").map(|(o, d)| Check::Ttfb(o, d))?,
        "" if c.at_end() => {
            return Err(c.err(
                0,
                "empty rule: write e.g. 'status == 200' or 'json .data.id exists'",
            ))
        }
        _ => {
            let (at, w) = if subject.is_empty() {
                c.word()
            } else {
                (start, subject)
            };
            return Err(c.err(
                at,
                format!(
                    "unknown subject {:?}: a rule starts with status, header, json, body, time, ttfb, request or response",
                    escape_str(w)
                ),
            ));
        }
    };
    if !c.at_end() {
        let (at, w) = c.word();
        return Err(c.err(
            at,
            format!(
                "unexpected {:?} after the rule: one check per --expect; quote text with spaces (\"like this\")",
                escape_str(w)
            ),
        ));
    }
    Ok(Rule {
        text: trimmed.to_string(),
        check: if request {
            Check::Request(Box::new(check))
        } else {
            check
        },
    })
}

fn cmp_of(op: &str) -> Option<Cmp> {
    Some(match op {
        "==" => Cmp::Eq,
        "!=" => Cmp::Ne,
        "<" => Cmp::Lt,
        "<=" => Cmp::Le,
        ">" => Cmp::Gt,
        ">=" => Cmp::Ge,
        _ => return None,
    })
}

fn bad_op(c: &Cursor<'_>, at: usize, op: &str, after: &str, expected: &str) -> RuleError {
    if op == "=" {
        return c.err(at, "\"=\" is not an operator: use == to compare");
    }
    let got = if op.is_empty() {
        "nothing".to_string()
    } else {
        format!("{:?}", escape_str(op))
    };
    c.err(
        at,
        format!("expected {expected} after {after}, found {got}"),
    )
}

fn status(c: &mut Cursor<'_>) -> Result<Check, RuleError> {
    let (at, op) = c.op();
    if op.eq_ignore_ascii_case("in") {
        let lo = code(c)?;
        c.ws();
        let dots = c.pos;
        if !c.eat("..") {
            return Err(c.err(
                dots,
                "expected .. in a status range, e.g. status in 200..299",
            ));
        }
        let hi = code(c)?;
        if hi < lo {
            return Err(c.err(dots, format!("empty range: {lo} is above {hi}")));
        }
        return Ok(Check::StatusIn(lo, hi));
    }
    let Some(cmp) = cmp_of(op) else {
        return Err(bad_op(c, at, op, "status", "==, !=, <, <=, >, >= or in"));
    };
    Ok(Check::Status(cmp, code(c)?))
}

/// A status code, 100 to 999.
fn code(c: &mut Cursor<'_>) -> Result<u16, RuleError> {
    let (at, digits) = c.run(|ch| ch.is_ascii_digit());
    match digits.parse::<u16>() {
        Ok(n) if (100..=999).contains(&n) => Ok(n),
        _ => Err(c.err(at, "expected a status code (three digits, e.g. 200)")),
    }
}

fn header(c: &mut Cursor<'_>) -> Result<Check, RuleError> {
    let (at, name) = c.run(tchar);
    if name.is_empty() {
        return Err(c.err(
            at,
            "expected a header name after header, e.g. header content-type ~ json",
        ));
    }
    let name = name.to_string();
    let (op_at, op) = c.op();
    let test = match op {
        "exists" => HeaderTest::Exists,
        "missing" => HeaderTest::Missing,
        "==" => HeaderTest::Text(TextTest::Eq(c.text("a value")?)),
        "!=" => HeaderTest::Text(TextTest::Ne(c.text("a value")?)),
        "~" => HeaderTest::Text(TextTest::Contains(c.text("text to look for")?)),
        "!~" => HeaderTest::Text(TextTest::NotContains(c.text("text to look for")?)),
        _ => {
            return Err(bad_op(
                c,
                op_at,
                op,
                &format!("header {}", escape_str(&name)),
                "exists, missing, ==, !=, ~ or !~",
            ))
        }
    };
    Ok(Check::Header { name, test })
}

/// `~ TEXT` or `!~ TEXT` (and, when `eq`, `==`/`!=`).
fn text_op(c: &mut Cursor<'_>, after: &str, eq: bool) -> Result<TextTest, RuleError> {
    let (at, op) = c.op();
    Ok(match op {
        "~" => TextTest::Contains(c.text("text to look for")?),
        "!~" => TextTest::NotContains(c.text("text to look for")?),
        "==" if eq => TextTest::Eq(c.text("a value")?),
        "!=" if eq => TextTest::Ne(c.text("a value")?),
        _ => return Err(bad_op(c, at, op, after, "~ or !~")),
    })
}

fn json(c: &mut Cursor<'_>) -> Result<Check, RuleError> {
    let path = path(c)?;
    let after = format!("json {path}");
    let (at, op) = c.op();
    let test = match op {
        "exists" => JsonTest::Exists,
        "missing" => JsonTest::Missing,
        "==" => JsonTest::Eq(json_value(c)?),
        "!=" => JsonTest::Ne(json_value(c)?),
        "~" => JsonTest::Contains(c.text("text to look for")?),
        "!~" => JsonTest::NotContains(c.text("text to look for")?),
        _ => match cmp_of(op) {
            Some(cmp) => {
                let (n_at, n) = c.word();
                match n.parse::<f64>() {
                    Ok(v)
                        if v.is_finite()
                            && !n.is_empty()
                            && !n.starts_with(['+', 'i', 'I', 'n', 'N']) =>
                    {
                        JsonTest::Order(cmp, v)
                    }
                    _ => {
                        return Err(c.err(n_at, format!("expected a number after {}", cmp.as_str())))
                    }
                }
            }
            None => {
                return Err(bad_op(
                    c,
                    at,
                    op,
                    &after,
                    "exists, missing, ==, !=, <, <=, >, >=, ~ or !~",
                ))
            }
        },
    };
    Ok(Check::Json { path, test })
}

/// A JSON path starting with `.`.
fn path(c: &mut Cursor<'_>) -> Result<JsonPath, RuleError> {
    c.ws();
    let start = c.pos;
    if !c.eat(".") {
        return Err(c.err(
            start,
            "expected a JSON path starting with . after json, e.g. .data.items[0].id (or . for the whole body)",
        ));
    }
    let mut steps = Vec::new();
    // A path ends at a space or where an operator starts (`.a==1`).
    let ends = |ch: char| ch.is_whitespace() || "=!<>~".contains(ch);
    match c.peek() {
        None => return Ok(JsonPath(steps)),
        Some(ch) if ends(ch) => return Ok(JsonPath(steps)),
        Some('[') => {}
        Some(_) => key(c, &mut steps)?,
    }
    loop {
        match c.peek() {
            None => break,
            Some(ch) if ends(ch) => break,
            Some('.') => {
                c.pos += 1;
                key(c, &mut steps)?;
            }
            Some('[') => bracket(c, &mut steps)?,
            Some(_) => {
                return Err(c.err(
                    c.pos,
                    "unexpected character in a JSON path: keys are letters, digits, _ - $ @ :; write other keys as [\"key\"]",
                ))
            }
        }
    }
    Ok(JsonPath(steps))
}

/// A key after a `.`: bare or quoted.
fn key(c: &mut Cursor<'_>, steps: &mut Vec<PathStep>) -> Result<(), RuleError> {
    match c.peek() {
        Some('"') => steps.push(PathStep::Key(c.quoted()?)),
        Some(ch) if key_char(ch) => {
            let (_, k) = c.run_here(key_char);
            steps.push(PathStep::Key(k.to_string()));
        }
        _ => {
            return Err(c.err(
                c.pos,
                "a . in a JSON path must be followed by a key (letters, digits, _ - $ @ :) or \"a quoted key\"",
            ))
        }
    }
    Ok(())
}

/// `[N]`, `[-N]` or `["key"]` at the cursor.
fn bracket(c: &mut Cursor<'_>, steps: &mut Vec<PathStep>) -> Result<(), RuleError> {
    let open = c.pos;
    c.pos += 1;
    if c.peek() == Some('"') {
        steps.push(PathStep::Key(c.quoted()?));
    } else {
        let digits_at = c.pos;
        let neg = c.eat("-");
        let (_, d) = c.run_here(|ch| ch.is_ascii_digit());
        match d.parse::<i64>() {
            Ok(n) => steps.push(PathStep::Index(if neg { -n } else { n })),
            Err(_) => {
                return Err(c.err(
                    digits_at,
                    "expected an array index (0, 1, ... or -1 for the last) or a \"quoted key\" inside [ ]",
                ))
            }
        }
    }
    if !c.eat("]") {
        return Err(c.err(open, "this [ is never closed: add ]"));
    }
    Ok(())
}

impl Cursor<'_> {
    /// A run at the cursor, without skipping spaces first.
    fn run_here(&mut self, ok: impl Fn(char) -> bool) -> (usize, &str) {
        let rest = self.src.get(self.pos..).unwrap_or_default();
        let len = rest.find(|c: char| !ok(c)).unwrap_or(rest.len());
        let start = self.pos;
        self.pos += len;
        (start, rest.get(..len).unwrap_or_default())
    }
}

/// A JSON literal at the cursor.
fn json_value(c: &mut Cursor<'_>) -> Result<serde_json::Value, RuleError> {
    c.ws();
    let start = c.pos;
    let rest = c.src.get(start..).unwrap_or_default();
    let looks_json = rest.starts_with(['"', '[', '{', '-'])
        || rest.starts_with(|ch: char| ch.is_ascii_digit())
        || ["true", "false", "null"].iter().any(|w| {
            rest.starts_with(w)
                && !rest
                    .get(w.len()..)
                    .and_then(|r| r.chars().next())
                    .is_some_and(key_char)
        });
    if !looks_json {
        return Err(c.err(
            start,
            "expected a JSON value: a number, true, false, null, \"a string\" (quoted), [...] or {...}",
        ));
    }
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
    match stream.next() {
        Some(Ok(v)) => {
            c.pos = start + stream.byte_offset();
            Ok(v)
        }
        Some(Err(e)) => {
            // serde_json counts columns on the first line; rules are one line.
            let col = if e.is_eof() {
                rest.len()
            } else if e.line() <= 1 {
                e.column().saturating_sub(1)
            } else {
                0
            };
            let mut at = (start + col).min(c.src.len());
            while !c.src.is_char_boundary(at) {
                at -= 1;
            }
            Err(c.err(at, format!("invalid JSON value: {e}")))
        }
        None => Err(c.err(start, "expected a JSON value")),
    }
}

fn timing(c: &mut Cursor<'_>, what: &str) -> Result<(Cmp, std::time::Duration), RuleError> {
    let (at, op) = c.op();
    let cmp = match cmp_of(op) {
        Some(cmp @ (Cmp::Lt | Cmp::Le | Cmp::Gt | Cmp::Ge)) => cmp,
        _ => return Err(bad_op(c, at, op, what, "<, <=, > or >=")),
    };
    let (d_at, d) = c.word();
    if d.is_empty() {
        return Err(c.err(d_at, "expected a duration, e.g. 500ms or 2s"));
    }
    crate::duration::parse_duration(d)
        .map(|d| (cmp, d))
        .map_err(|e| c.err(d_at, e))
}

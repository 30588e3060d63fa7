//! `debug=2` goroutine dumps: Go's own traceback text, one stanza a goroutine.
//!
//! ```text
//! goroutine 7 [select, 4 minutes]:
//! main.hang({0x7b0580?, 0xc00007f770?})
//!         /src/server.go:129 +0x7a
//! net/http.(*conn).serve(0xc000001c20, {0x7b0580, 0xc00007f440})
//!         /usr/lib/go/src/net/http/server.go:1991 +0x607
//! created by net/http.(*Server).Serve in goroutine 1
//!         /usr/lib/go/src/net/http/server.go:3102 +0x4db
//! ```
//!
//! The format is not covered by Go's compatibility promise, so the parser is
//! lenient where versions differ (`gp=… m=…` in the header with
//! `GOTRACEBACK=system`, `in goroutine N` after `created by` since Go 1.21,
//! `...additional frames elided...`, `[originating from goroutine N]:`
//! ancestors, `labels:{…}` in the brackets or `{…}` after them as proposed for
//! Go 1.27) and strict where a line could only be a mistake: a header without
//! its brackets, a function line with no file line after it.

use super::{Dump, DumpError, DumpFormat, Goroutine, StackFrame, MAX_FRAMES, MAX_GOROUTINES};
use std::time::Duration;

/// Parses a `debug=2` dump (also what a Go panic or `SIGQUIT` prints).
pub fn parse(bytes: &[u8]) -> Result<Dump, DumpError> {
    let text = String::from_utf8_lossy(bytes);
    let mut dump = Dump {
        format: DumpFormat::Traceback,
        ..Dump::default()
    };
    let mut lines = text.lines().enumerate().peekable();
    let mut current: Option<Goroutine> = None;
    // Inside `[originating from goroutine N]:` ancestry: frames not kept.
    let mut in_ancestors = false;
    while let Some((index, raw)) = lines.next() {
        let number = index + 1;
        let line = raw.trim_end();
        if line.is_empty() {
            // A stanza ends at a blank line; what follows that is not a
            // goroutine (a crash's register dump, a log line) is no stack.
            finish(&mut dump, current.take());
            continue;
        }
        if line.starts_with("\tgoroutine running on other thread") {
            continue;
        }
        if is_header(line) {
            finish(&mut dump, current.take());
            current = Some(header(line, number)?);
            in_ancestors = false;
            continue;
        }
        let Some(g) = current.as_mut() else {
            // Text before the first goroutine (a panic message, a log line)
            // is not part of any stack.
            continue;
        };
        if line.starts_with("[originating from goroutine") {
            in_ancestors = true;
            continue;
        }
        if line.starts_with("...") || line.starts_with("\t...") {
            continue; // `...additional frames elided...`
        }
        if line.starts_with('\t') || line.starts_with(' ') {
            return Err(DumpError::Line {
                line: number,
                what: format!(
                    "a file line with no function line before it: {:?}",
                    clip(line)
                ),
            });
        }
        if !line.starts_with("created by ") && function_name(line).contains(char::is_whitespace) {
            // Not a Go function (`exit status 2` after a panic): the stack
            // ended.
            finish(&mut dump, current.take());
            continue;
        }
        let (function, created_by) = match line.strip_prefix("created by ") {
            Some(rest) => (
                rest.split(" in goroutine ").next().unwrap_or(rest).trim(),
                true,
            ),
            None => (function_name(line), false),
        };
        let location = match lines.peek() {
            Some((_, next)) if next.starts_with('\t') || next.starts_with("    ") => {
                let (_, next) = lines.next().unwrap_or((0, ""));
                file_line(next.trim())
            }
            _ => {
                return Err(DumpError::Line {
                    line: number,
                    what: format!(
                        "function {:?} has no '\\tFILE:LINE' line after it (the dump is cut?)",
                        clip(function)
                    ),
                })
            }
        };
        if in_ancestors {
            continue;
        }
        let frame = StackFrame {
            function: function.to_string(),
            file: location.0.to_string(),
            line: location.1,
        };
        if created_by {
            g.created_by = Some(frame);
        } else if g.frames.len() < MAX_FRAMES {
            g.frames.push(frame);
        }
    }
    finish(&mut dump, current.take());
    if dump.total == 0 && dump.goroutines.is_empty() {
        return Err(DumpError::UnknownFormat);
    }
    Ok(dump)
}

/// `goroutine N ...`: the start of a stanza.
pub(super) fn is_header(line: &str) -> bool {
    line.strip_prefix("goroutine ")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

fn finish(dump: &mut Dump, g: Option<Goroutine>) {
    let Some(g) = g else { return };
    dump.total += 1;
    if dump.goroutines.len() < MAX_GOROUTINES {
        dump.goroutines.push(g);
    } else {
        dump.dropped += 1;
    }
}

/// `goroutine 7 [select, 4 minutes, locked to thread]:`.
fn header(line: &str, number: usize) -> Result<Goroutine, DumpError> {
    let bad = |what: &str| DumpError::Line {
        line: number,
        what: format!("{what}: {:?}", clip(line)),
    };
    let rest = &line["goroutine ".len()..];
    let id_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let id = rest[..id_end]
        .parse::<u64>()
        .map_err(|_| bad("expected 'goroutine N [state]:'"))?;
    let open = rest
        .find('[')
        .ok_or_else(|| bad("goroutine header without '[state]'"))?;
    let close =
        matching_bracket(rest, open).ok_or_else(|| bad("goroutine header with an unclosed '['"))?;
    let mut g = Goroutine {
        id: Some(id),
        count: 1,
        ..Goroutine::default()
    };
    for (i, part) in split_top(&rest[open + 1..close]).into_iter().enumerate() {
        let part = part.trim();
        if let Some(labels) = part.strip_prefix("labels:") {
            g.labels = parse_labels(labels.trim());
        } else if i == 0 {
            g.state = Some(part.to_string());
        } else if let Some(wait) = parse_wait(part) {
            g.wait = Some(wait);
        }
    }
    // `goroutine 7 [select]{"k": "v"}:` (the debug=3 proposal).
    let after = rest[close + 1..].trim().trim_end_matches(':').trim();
    if after.starts_with('{') {
        g.labels = parse_labels(after);
    }
    Ok(g)
}

/// The index of the `]` closing the `[` at `open`, skipping quoted strings
/// and nested braces (label values may hold brackets).
fn matching_bracket(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0i32;
    let mut quotes = Quotes::default();
    for (i, c) in s.char_indices().skip_while(|(i, _)| *i < open) {
        if quotes.inside(c) {
            continue;
        }
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => {
                depth -= 1;
                if depth == 0 && c == ']' {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Go-quoted strings met in a scan, one character at a time.
#[derive(Default)]
struct Quotes {
    open: bool,
    escaped: bool,
}

impl Quotes {
    /// Whether `c` belongs to a quoted string (its quotes included).
    fn inside(&mut self, c: char) -> bool {
        if self.open {
            match (self.escaped, c) {
                (true, _) => self.escaped = false,
                (false, '\\') => self.escaped = true,
                (false, '"') => self.open = false,
                _ => {}
            }
            return true;
        }
        self.open = c == '"';
        self.open
    }
}

/// Splits on commas outside quotes and braces.
fn split_top(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quotes, mut start) = (0i32, Quotes::default(), 0);
    for (i, c) in s.char_indices() {
        if quotes.inside(c) {
            continue;
        }
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// `4 minutes`, `1 minute` (Go prints waits in whole minutes, from one).
fn parse_wait(part: &str) -> Option<Duration> {
    let mut words = part.split_whitespace();
    let n: u64 = words.next()?.parse().ok()?;
    match words.next()? {
        "minute" | "minutes" => Some(Duration::from_secs(n.saturating_mul(60))),
        _ => None,
    }
}

/// `net/http.(*conn).serve(0xc000001c20, {...})` → `net/http.(*conn).serve`.
/// The arguments start at the last `(` that is not part of a receiver
/// (`(*conn)`), so find the `(` that opens the final parenthesised group.
fn function_name(line: &str) -> &str {
    let line = line.trim();
    if !line.ends_with(')') {
        return line;
    }
    let mut depth = 0i32;
    for (i, c) in line.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    return &line[..i];
                }
            }
            _ => {}
        }
    }
    line
}

/// `/src/server.go:129 +0x7a` → (`/src/server.go`, 129).
pub(super) fn file_line(s: &str) -> (&str, u32) {
    let s = s.split(" +0x").next().unwrap_or(s).trim();
    match s.rsplit_once(':') {
        Some((file, line)) => match line.trim().parse() {
            Ok(n) => (file, n),
            Err(_) => (s, 0),
        },
        None => (s, 0),
    }
}

/// Go's label rendering, `{"k":"v", "k2":"v2"}` with Go-quoted strings
/// (`%q`); lenient: a pair that does not parse is skipped.
pub(super) fn parse_labels(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let inner = s.trim().trim_start_matches('{').trim_end_matches('}');
    let mut rest = inner;
    while let Some((key, after)) = quoted(rest.trim_start_matches([',', ' '])) {
        let after = after.trim_start();
        let Some(after) = after.strip_prefix(':') else {
            break;
        };
        let Some((value, after)) = quoted(after.trim_start()) else {
            break;
        };
        out.push((key, value));
        rest = after;
    }
    out
}

/// A Go-quoted string at the start of `s` and what follows it.
fn quoted(s: &str) -> Option<(String, &str)> {
    let body = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &body[i + 1..])),
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'x' | 'u' | 'U' => {
                        let digits = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = (0..digits)
                            .filter_map(|_| chars.next())
                            .map(|x| x.1)
                            .collect();
                        let code = u32::from_str_radix(&hex, 16).ok()?;
                        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    None
}

/// At most the first 80 characters, for error messages.
pub(super) fn clip(s: &str) -> &str {
    match s.char_indices().nth(80) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "goroutine 6 [running]:
runtime/pprof.writeGoroutineStacks({0x7add80, 0xc0000140c8})
\t/usr/lib/go-1.19/src/runtime/pprof/pprof.go:692 +0x70
main.dumpLoop()
\t/tmp/gr/main.go:97 +0x3ef
created by main.main
\t/tmp/gr/main.go:68 +0x1c7

goroutine 7 [select, 4 minutes]:
main.hang({0x7b0580?, 0xc00007f770?})
\t/tmp/gr/main.go:129 +0x7a
net/http.HandlerFunc.ServeHTTP(...)
\t/usr/lib/go-1.19/src/net/http/server.go:2109
net/http.(*conn).serve(0xc000001c20, {0x7b0580, 0xc00007f440})
\t/usr/lib/go-1.19/src/net/http/server.go:1991 +0x607
created by net/http.(*Server).Serve in goroutine 1
\t/usr/lib/go-1.19/src/net/http/server.go:3102 +0x4db

goroutine 9 [IO wait, 1 minute, locked to thread]:
internal/poll.runtime_pollWait(0x7f2f4ac2a9a8, 0x72)
\t/usr/lib/go-1.19/src/runtime/netpoll.go:305 +0x89
";

    #[test]
    fn reads_ids_states_waits_frames_and_creators() {
        let dump = parse(DUMP.as_bytes()).unwrap();
        assert_eq!(dump.total, 3);
        assert_eq!(dump.format, DumpFormat::Traceback);
        let g = &dump.goroutines[1];
        assert_eq!(g.id, Some(7));
        assert_eq!(g.state.as_deref(), Some("select"));
        assert_eq!(g.wait, Some(Duration::from_secs(240)));
        assert_eq!(g.frames.len(), 3);
        assert_eq!(g.frames[0].function, "main.hang");
        assert_eq!(g.frames[0].file, "/tmp/gr/main.go");
        assert_eq!(g.frames[0].line, 129);
        assert_eq!(g.frames[1].function, "net/http.HandlerFunc.ServeHTTP");
        assert_eq!(g.frames[1].line, 2109);
        assert_eq!(g.frames[2].function, "net/http.(*conn).serve");
        assert_eq!(
            g.created_by.as_ref().unwrap().function,
            "net/http.(*Server).Serve"
        );
        let g = &dump.goroutines[2];
        assert_eq!(g.state.as_deref(), Some("IO wait"));
        assert_eq!(g.wait, Some(Duration::from_secs(60)));
        assert_eq!(dump.goroutines[0].wait, None);
    }

    #[test]
    fn labels_in_the_header_either_way() {
        let d = "goroutine 3 [select, labels:{\"remote\":\"10.0.0.1:41344\", \"id\":\"a]b\"}]:\nmain.f()\n\t/a.go:1 +0x1\n\ngoroutine 4 gp=0xc000 m=nil [chan receive]{\"k\": \"v\\x41\"}:\nmain.g()\n\t/a.go:2\n";
        let dump = parse(d.as_bytes()).unwrap();
        assert_eq!(
            dump.goroutines[0].labels,
            vec![
                ("remote".to_string(), "10.0.0.1:41344".to_string()),
                ("id".to_string(), "a]b".to_string())
            ]
        );
        assert_eq!(dump.goroutines[0].state.as_deref(), Some("select"));
        assert_eq!(
            dump.goroutines[1].labels,
            vec![("k".to_string(), "vA".to_string())]
        );
        assert_eq!(dump.goroutines[1].state.as_deref(), Some("chan receive"));
    }

    #[test]
    fn ancestors_and_elided_frames_are_skipped() {
        let d = "goroutine 5 [running]:\nmain.f(...)\n\t/a.go:1\n...additional frames elided...\ncreated by main.g in goroutine 2\n\t/a.go:9 +0x1\n[originating from goroutine 2]:\nmain.h(...)\n\t/a.go:3 +0x1\n";
        let dump = parse(d.as_bytes()).unwrap();
        assert_eq!(dump.goroutines[0].frames.len(), 1);
        assert_eq!(dump.goroutines[0].created_by.as_ref().unwrap().line, 9);
    }

    #[test]
    fn a_cut_dump_names_the_line() {
        let cut = "goroutine 1 [running]:\nmain.main()\n";
        assert_eq!(
            parse(cut.as_bytes()),
            Err(DumpError::Line {
                line: 2,
                what:
                    "function \"main.main\" has no '\\tFILE:LINE' line after it (the dump is cut?)"
                        .into()
            })
        );
        let bad = "goroutine x [running]:\n";
        assert_eq!(parse(bad.as_bytes()), Err(DumpError::UnknownFormat));
        let bad = "goroutine 1 running:\n";
        assert!(matches!(
            parse(bad.as_bytes()),
            Err(DumpError::Line { line: 1, .. })
        ));
    }

    #[test]
    fn a_crash_dump_with_signal_lines_and_registers_parses() {
        let d = "SIGQUIT: quit\nPC=0x46e8e1 m=0 sigcode=0\n\ngoroutine 0 [idle]:\nruntime.futex()\n\t/go/src/runtime/sys_linux_amd64.s:560 +0x21 fp=0xc sp=0xd pc=0xe\n\ngoroutine 1 [select]:\nmain.main()\n\t/a/main.go:5 +0x1\n\ngoroutine 7 [running]:\n\tgoroutine running on other thread; stack unavailable\n\nrax    0x0\nrbx    0x0\n";
        let dump = parse(d.as_bytes()).unwrap();
        assert_eq!(dump.total, 3);
        assert_eq!(dump.goroutines[1].frames[0].function, "main.main");
        assert!(dump.goroutines[2].frames.is_empty());
        assert_eq!(crate::goruntime::parse_dump(d.as_bytes()).unwrap().total, 3);
        let panic = "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/a/main.go:5 +0x1d\nexit status 2\n";
        assert_eq!(
            crate::goruntime::parse_dump(panic.as_bytes())
                .unwrap()
                .goroutines[0]
                .frames
                .len(),
            1
        );
    }

    #[test]
    fn every_prefix_parses_or_errs_without_panic() {
        for end in 0..=DUMP.len() {
            if DUMP.is_char_boundary(end) {
                let _ = parse(&DUMP.as_bytes()[..end]);
            }
        }
    }

    #[test]
    fn function_names_keep_receivers() {
        assert_eq!(
            function_name("net/http.(*conn).serve(0xc0, {0x1, 0x2})"),
            "net/http.(*conn).serve"
        );
        assert_eq!(function_name("main.main()"), "main.main");
        assert_eq!(
            function_name("net/http.(*conn).serve(...)"),
            "net/http.(*conn).serve"
        );
        assert_eq!(function_name("main.f.func1"), "main.f.func1");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in "(goroutine [0-9]{1,3} \\[[a-z ,0-9]{0,20}\\]:\n|[a-z./()*]{0,20}\n|\t[a-z/.]{0,10}:[0-9]{0,4}( \\+0x[0-9a-f]{1,3})?\n|created by [a-z.]{0,10}\n|\n){0,30}") {
            let _ = parse(s.as_bytes());
        }
    }
}

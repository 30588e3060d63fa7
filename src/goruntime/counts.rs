//! `debug=1` goroutine dumps: one stanza per distinct stack and label set.
//!
//! ```text
//! goroutine profile: total 16
//! 8 @ 0x43b256 0x44b01c 0x64f486
//! # labels: {"remote":"127.0.0.1:58610"}
//! # 0x64f485 net/http.(*Transport).getConn+0x5c5 /usr/lib/go/src/net/http/transport.go:1376
//! ```
//!
//! Counts and labels, no states or wait times. Frames are `#`, address,
//! `FUNC+OFF` and `FILE:LINE`, tab-separated;
//! addresses with no symbol print as `#\tADDR` alone and are skipped.

use super::text::{clip, file_line, parse_labels};
use super::{Dump, DumpError, DumpFormat, Goroutine, StackFrame, MAX_FRAMES, MAX_GOROUTINES};

/// Parses a `debug=1` goroutine dump.
pub fn parse(bytes: &[u8]) -> Result<Dump, DumpError> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.lines().enumerate();
    let mut dump = Dump {
        format: DumpFormat::Counts,
        ..Dump::default()
    };
    let stated = loop {
        let Some((index, line)) = lines.next() else {
            return Err(DumpError::UnknownFormat);
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let total = line
            .strip_prefix("goroutine profile: total ")
            .and_then(|n| n.trim().parse::<u64>().ok())
            .ok_or_else(|| DumpError::Line {
                line: index + 1,
                what: format!(
                    "expected 'goroutine profile: total N', found {:?}",
                    clip(line)
                ),
            })?;
        break total;
    };
    let mut current: Option<Goroutine> = None;
    let mut sum = 0u64;
    for (index, raw) in lines {
        let number = index + 1;
        let line = raw.trim_end();
        if line.trim().is_empty() {
            finish(&mut dump, current.take());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# labels:") {
            let g = current.as_mut().ok_or_else(|| orphan(number, line))?;
            g.labels = parse_labels(rest.trim());
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let g = current.as_mut().ok_or_else(|| orphan(number, line))?;
            let mut fields = rest.split('\t').map(str::trim).filter(|f| !f.is_empty());
            let _address = fields.next();
            let Some(function) = fields.next() else {
                continue; // an address with no symbol
            };
            let function = match function.rfind("+0x") {
                Some(at) => &function[..at],
                None => function,
            };
            let (file, line) = fields.next().map(file_line).unwrap_or(("", 0));
            if g.frames.len() < MAX_FRAMES {
                g.frames.push(StackFrame {
                    function: function.to_string(),
                    file: file.to_string(),
                    line,
                });
            }
            continue;
        }
        // `8 @ 0x43b256 0x44b01c ...`: a new stanza.
        let count = line
            .split_once(" @")
            .and_then(|(n, _)| n.trim().parse::<u64>().ok())
            .ok_or_else(|| DumpError::Line {
                line: number,
                what: format!(
                    "expected 'COUNT @ ADDRESSES' or a '#' frame line, found {:?}",
                    clip(line)
                ),
            })?;
        finish(&mut dump, current.take());
        sum = sum.saturating_add(count);
        current = Some(Goroutine {
            count,
            ..Goroutine::default()
        });
    }
    finish(&mut dump, current.take());
    dump.total = stated.max(sum);
    Ok(dump)
}

fn finish(dump: &mut Dump, g: Option<Goroutine>) {
    let Some(g) = g else { return };
    if dump.goroutines.len() < MAX_GOROUTINES {
        dump.goroutines.push(g);
    } else {
        dump.dropped = dump.dropped.saturating_add(g.count);
    }
}

fn orphan(number: usize, line: &str) -> DumpError {
    DumpError::Line {
        line: number,
        what: format!("a '#' line outside any 'COUNT @' stanza: {:?}", clip(line)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "goroutine profile: total 11
8 @ 0x43b256 0x44b01c 0x64f486
#\t0x64f485\tnet/http.(*Transport).getConn+0x5c5\t/usr/lib/go-1.19/src/net/http/transport.go:1376
#\t0x6a873e\tmain.client.func1+0xbe\t\t\t/tmp/gr/main.go:159

1 @ 0x43b256 0x44b01c 0x6a833a
# labels: {\"remote\":\"127.0.0.1:58610\", \"req\":\"a\\\"b\"}
#\t0x6a8339\tmain.hang+0x79\t\t\t\t/tmp/gr/main.go:129
#\t0x63c266\tnet/http.(*conn).serve+0x606\t\t/usr/lib/go-1.19/src/net/http/server.go:1991
#\t0x46b1e1

2 @ 0x43b256
";

    #[test]
    fn reads_counts_labels_and_frames() {
        let dump = parse(DUMP.as_bytes()).unwrap();
        assert_eq!(dump.format, DumpFormat::Counts);
        assert_eq!(dump.total, 11);
        assert_eq!(dump.goroutines.len(), 3);
        let g = &dump.goroutines[0];
        assert_eq!(g.count, 8);
        assert_eq!(g.frames[0].function, "net/http.(*Transport).getConn");
        assert_eq!(g.frames[0].line, 1376);
        assert_eq!(g.frames[1].file, "/tmp/gr/main.go");
        let g = &dump.goroutines[1];
        assert_eq!(
            g.labels,
            vec![
                ("remote".into(), "127.0.0.1:58610".into()),
                ("req".into(), "a\"b".into())
            ]
        );
        assert_eq!(g.frames.len(), 2, "the symbol-less address is skipped");
        assert_eq!(dump.goroutines[2].count, 2);
        assert!(dump.goroutines[2].frames.is_empty());
    }

    #[test]
    fn errors_name_the_line() {
        let bad = "goroutine profile: total 1\n1 @ 0x1\n#\t0x1\tmain.f+0x1\t/a.go:1\nnonsense\n";
        assert!(matches!(
            parse(bad.as_bytes()),
            Err(DumpError::Line { line: 4, .. })
        ));
        let bad = "goroutine profile: total x\n";
        assert!(matches!(
            parse(bad.as_bytes()),
            Err(DumpError::Line { line: 1, .. })
        ));
        let bad = "goroutine profile: total 1\n#\t0x1\tmain.f+0x1\t/a.go:1\n";
        assert!(matches!(
            parse(bad.as_bytes()),
            Err(DumpError::Line { line: 2, .. })
        ));
    }

    #[test]
    fn every_prefix_parses_or_errs_without_panic() {
        for end in 0..=DUMP.len() {
            let _ = parse(&DUMP.as_bytes()[..end]);
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_stanzas_never_panic(s in "goroutine profile: total [0-9]{1,3}\n([0-9]{1,3} @( 0x[0-9a-f]{1,4}){0,3}\n|# labels: \\{[a-z\":, ]{0,20}\\}\n|#\t0x[0-9a-f]{1,4}(\t[a-z.()*]{0,12}\\+0x[0-9]{1,2}\t[a-z/]{0,8}:[0-9]{0,3})?\n|\n){0,20}") {
            let _ = parse(s.as_bytes());
        }
    }
}

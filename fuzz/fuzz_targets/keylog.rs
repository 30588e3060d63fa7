//! Key log parser fuzz target: any bytes, as text where they are UTF-8 and
//! lossily converted where not, parse without panicking; merging the result
//! into a second log does too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netsleuth::decrypt::KeyLog;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (log, warnings) = KeyLog::parse(&text);
    assert!(log.len() <= text.split('\n').count());
    for w in &warnings {
        assert!(w.line >= 1);
        let _ = w.to_string();
    }
    let mut merged = KeyLog::with_max_entries(4);
    let _ = merged.add_text(&text);
    merged.extend(log);
});

//! `debug=2` goroutine dump fuzz target: any bytes, alone and after a
//! goroutine header, and through the format sniffing, parse without
//! panicking, within the bounds, and classify and summarise without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netsleuth::goruntime::{parse_dump, summary, text, Dump, MAX_FRAMES, MAX_GOROUTINES};

fn check(d: &Dump) {
    assert!(d.goroutines.len() <= MAX_GOROUTINES);
    for g in &d.goroutines {
        assert!(g.frames.len() <= MAX_FRAMES);
    }
    let groups = summary::summarize(d);
    let _ = summary::growing(&[groups.clone(), groups]);
}

fuzz_target!(|data: &[u8]| {
    let mut traceback = b"goroutine 1 [select, 2 minutes]:\n".to_vec();
    traceback.extend_from_slice(data);
    for bytes in [data, &traceback[..]] {
        if let Ok(d) = text::parse(bytes) {
            check(&d);
        }
    }
    if let Ok(d) = parse_dump(data) {
        check(&d);
    }
});

//! `debug=1` goroutine dump fuzz target: any bytes, alone and after the
//! profile's header line, parse without panicking, within the bounds, and
//! classify and summarise without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netsleuth::goruntime::{counts, summary, Dump, MAX_FRAMES, MAX_GOROUTINES};

fn check(d: &Dump) {
    assert!(d.goroutines.len() <= MAX_GOROUTINES);
    for g in &d.goroutines {
        assert!(g.frames.len() <= MAX_FRAMES);
    }
    let groups = summary::summarize(d);
    let _ = summary::growing(&[groups.clone(), groups]);
}

fuzz_target!(|data: &[u8]| {
    let mut counted = b"goroutine profile: total 3\n".to_vec();
    counted.extend_from_slice(data);
    for bytes in [data, &counted[..]] {
        if let Ok(d) = counts::parse(bytes) {
            check(&d);
        }
    }
});

//! pprof profile fuzz target: any bytes, raw and gzip'd, parse without
//! panicking; a profile read has in-range values, bounded stacks, and turns
//! into a goroutine dump or an error naming what it is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netsleuth::goruntime::profile::{looks_like_raw_profile, parse};
use netsleuth::goruntime::{MAX_FRAMES, MAX_GOROUTINES};

fuzz_target!(|data: &[u8]| {
    let _ = looks_like_raw_profile(data);
    let mut gz = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff];
    gz.extend_from_slice(data);
    let _ = parse(&gz);
    let Ok(p) = parse(data) else { return };
    assert!(p.samples.len() <= MAX_GOROUTINES);
    assert_eq!(p.dropped_values.len(), p.sample_types.len());
    for s in &p.samples {
        assert!(s.frames.len() <= MAX_FRAMES);
        assert_eq!(s.values.len(), p.sample_types.len());
    }
    for t in &p.sample_types {
        let share = p.share_where(&t.kind, |f| f.len() % 2 == 0);
        assert!((0.0..=1.0).contains(&share));
        let _ = p.total(&t.kind);
    }
    let _ = p.is_cpu();
    if let Ok(d) = p.into_dump() {
        assert!(d.total >= d.dropped);
    }
});

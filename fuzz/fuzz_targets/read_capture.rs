//! Feeds arbitrary bytes to the capture reader as if they were a file on stdin and drains
//! every frame: detection, gzip, pcap and pcapng parsing must never panic and always end.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use netsleuth::source::file::FileSource;
use netsleuth::source::FrameSource;

/// Enough frames to exercise every path; a bound so a huge input cannot stall a run.
const MAX_FRAMES: usize = 10_000;

fuzz_target!(|data: &[u8]| {
    let Ok(mut src) = FileSource::from_reader("fuzz", Box::new(Cursor::new(data.to_vec()))) else {
        return;
    };
    let mut bytes = 0usize;
    for _ in 0..MAX_FRAMES {
        match src.next_frame() {
            Ok(Some(frame)) => {
                assert!(frame.number > 0);
                bytes = bytes.wrapping_add(frame.data.len());
            }
            Ok(None) | Err(_) => break,
        }
    }
    let _ = (bytes, src.bytes_consumed(), src.decryption_secrets().len());
});

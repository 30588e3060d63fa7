//! The whole flow stage on arbitrary packets: frames cut from the input (a length
//! byte, a time step byte, then that many bytes of raw IP), decoded and fed to a
//! small flow table, with every record diagnosed. Must never panic or grow past
//! its caps.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netsleuth::decode::decode;
use netsleuth::diagnose::tcp::diagnose;
use netsleuth::flow::conn::ConnRecord;
use netsleuth::flow::table::{FlowConfig, FlowSink, FlowTable};
use netsleuth::source::Frame;
use netsleuth::base::{LinkType, Timestamp};

struct Sink {
    records: usize,
}

impl FlowSink for Sink {
    fn connection(&mut self, record: ConnRecord) {
        self.records += 1;
        let _ = diagnose(&record, &netsleuth::diagnose::tcp::TcpRules::default());
    }
}

fuzz_target!(|data: &[u8]| {
    let config = FlowConfig {
        max_flows: 8,
        max_syn_only: 4,
        half_open_timeout_ns: 50_000_000,
        established_timeout_ns: 100_000_000,
        closed_timeout_ns: 10_000_000,
        udp_timeout_ns: 20_000_000,
    };
    let mut table = FlowTable::new(config);
    let mut sink = Sink { records: 0 };
    let mut rest = data;
    let mut ts = 0i64;
    let mut number = 0;
    while let [len, step, tail @ ..] = rest {
        let len = (*len as usize).min(tail.len());
        let (bytes, next) = tail.split_at(len);
        rest = next;
        ts += i64::from(*step) * 1_000_000;
        number += 1;
        let frame = Frame {
            number,
            ts: Timestamp(ts),
            orig_len: len as u32,
            link: LinkType::RAW,
            interface: 0,
            data: bytes,
        };
        table.on_packet(&frame, &decode(frame.link, frame.data), &mut sink);
        assert!(table.open_flows() <= 8);
    }
    table.finish(&mut sink);
    assert_eq!(table.open_flows(), 0);
});

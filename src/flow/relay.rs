//! A [`FlowSink`] that carries the flow stage's events to another thread.
//!
//! The flow stage (reading, decoding, the flow table, reassembly) and what
//! consumes it (application parsers, diagnosis, output) each take about half
//! of `analyze`'s time, and every call between them is one-way: the sink
//! never answers the table. So the table can run on one core and the sink on
//! the other, and the sink sees the very same calls in the very same order as
//! when it is called directly: the output does not depend on the threads.
//!
//! Events travel in batches (a channel send per event costs more than the
//! event); stream and datagram bytes are copied into one buffer per batch.
//! Batches come back empty to be reused, and the channel holds only a few,
//! so memory stays bounded whichever side is slower.

use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, SyncSender};

use super::conn::{ConnRecord, IcmpNote};
use super::events::TcpEvents;
use super::key::Protocol;
use super::reassembly::StreamEnd;
use super::table::FlowSink;
use crate::base::Side;
use crate::base::Timestamp;

/// Events per batch before it is sent.
const BATCH_EVENTS: usize = 1024;
/// Payload bytes per batch before it is sent.
const BATCH_BYTES: usize = 256 << 10;
/// Batches in flight (sent and not yet replayed).
const IN_FLIGHT: usize = 4;

/// One [`FlowSink`] call, or a message of the caller's own (`E`).
enum Event<E> {
    Opened {
        conn: u64,
        protocol: Protocol,
        client: SocketAddr,
        server: SocketAddr,
    },
    HandshakeRtt {
        conn: u64,
        rtt_ns: i64,
    },
    TcpEvents {
        conn: u64,
        frame: u64,
        ts: Timestamp,
        side: Side,
        events: TcpEvents,
    },
    StreamData {
        conn: u64,
        side: Side,
        offset: u64,
        bytes: (usize, usize),
        frame: u64,
        ts: Timestamp,
    },
    StreamGap {
        conn: u64,
        side: Side,
        offset: u64,
        len: u64,
    },
    StreamEnd {
        conn: u64,
        side: Side,
        how: StreamEnd,
    },
    Datagram {
        conn: u64,
        side: Side,
        bytes: (usize, usize),
        frame: u64,
        ts: Timestamp,
    },
    IcmpError {
        conn: u64,
        note: Box<IcmpNote>,
    },
    Connection(Box<ConnRecord>),
    Clock(Timestamp),
    Other(E),
}

/// Events in the order they were made, and the bytes they carry.
pub struct Batch<E> {
    events: Vec<Event<E>>,
    bytes: Vec<u8>,
}

impl<E> Batch<E> {
    fn new() -> Batch<E> {
        Batch {
            events: Vec::with_capacity(BATCH_EVENTS),
            bytes: Vec::with_capacity(BATCH_BYTES),
        }
    }

    fn is_full(&self) -> bool {
        self.events.len() >= BATCH_EVENTS || self.bytes.len() >= BATCH_BYTES
    }

    fn keep(&mut self, bytes: &[u8]) -> (usize, usize) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(bytes);
        (start, self.bytes.len())
    }

    /// Makes every call of the batch on `sink`, in order; the caller's own
    /// messages go to `other`. The batch is left empty.
    pub fn replay<S: FlowSink + ?Sized>(&mut self, sink: &mut S, mut other: impl FnMut(&mut S, E)) {
        let bytes = &self.bytes;
        let slice = |(start, end): (usize, usize)| bytes.get(start..end).unwrap_or_default();
        for event in self.events.drain(..) {
            match event {
                Event::Opened {
                    conn,
                    protocol,
                    client,
                    server,
                } => sink.opened(conn, protocol, client, server),
                Event::HandshakeRtt { conn, rtt_ns } => sink.handshake_rtt(conn, rtt_ns),
                Event::TcpEvents {
                    conn,
                    frame,
                    ts,
                    side,
                    events,
                } => sink.tcp_events(conn, frame, ts, side, events),
                Event::StreamData {
                    conn,
                    side,
                    offset,
                    bytes,
                    frame,
                    ts,
                } => sink.stream_data(conn, side, offset, slice(bytes), frame, ts),
                Event::StreamGap {
                    conn,
                    side,
                    offset,
                    len,
                } => sink.stream_gap(conn, side, offset, len),
                Event::StreamEnd { conn, side, how } => sink.stream_end(conn, side, how),
                Event::Datagram {
                    conn,
                    side,
                    bytes,
                    frame,
                    ts,
                } => sink.datagram(conn, side, slice(bytes), frame, ts),
                Event::IcmpError { conn, note } => sink.icmp_error(conn, &note),
                Event::Connection(record) => sink.connection(*record),
                Event::Clock(ts) => sink.clock(ts),
                Event::Other(message) => other(sink, message),
            }
        }
        self.bytes.clear();
    }
}

/// The sending end: a [`FlowSink`] for the flow table's thread.
pub struct RelaySink<E> {
    batch: Batch<E>,
    to: SyncSender<Batch<E>>,
    spare: Receiver<Batch<E>>,
    closed: bool,
}

/// The receiving end, for the thread that owns the real sink.
pub struct RelayReceiver<E> {
    from: Receiver<Batch<E>>,
    spare: SyncSender<Batch<E>>,
}

/// A connected pair: what the [`RelaySink`] is given comes out of the
/// [`RelayReceiver`] in order.
pub fn relay<E>() -> (RelaySink<E>, RelayReceiver<E>) {
    let (to, from) = mpsc::sync_channel(IN_FLIGHT);
    // Room for every batch there can be, so returning one never blocks.
    let (spare_to, spare) = mpsc::sync_channel(IN_FLIGHT + 2);
    (
        RelaySink {
            batch: Batch::new(),
            to,
            spare,
            closed: false,
        },
        RelayReceiver {
            from,
            spare: spare_to,
        },
    )
}

impl<E> RelaySink<E> {
    /// Sends one message of the caller's own, in order with the flow events.
    pub fn push(&mut self, message: E) {
        self.add(Event::Other(message));
    }

    /// True once the receiving end is gone: nothing sent arrives any more, so
    /// the producer may as well stop.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Sends what is batched now (dropping the sink does too, and the
    /// receiver then sees the end).
    pub fn flush(&mut self) {
        if self.batch.events.is_empty() || self.closed {
            return;
        }
        let next = self.spare.try_recv().unwrap_or_else(|_| Batch::new());
        let full = std::mem::replace(&mut self.batch, next);
        if self.to.send(full).is_err() {
            self.closed = true;
        }
    }

    fn add(&mut self, event: Event<E>) {
        self.batch.events.push(event);
        if self.batch.is_full() {
            self.flush();
        }
    }
}

impl<E> Drop for RelaySink<E> {
    /// What is still batched goes out: the receiver sees every event made.
    fn drop(&mut self) {
        self.flush();
    }
}

impl<E> FlowSink for RelaySink<E> {
    fn opened(&mut self, conn: u64, protocol: Protocol, client: SocketAddr, server: SocketAddr) {
        self.add(Event::Opened {
            conn,
            protocol,
            client,
            server,
        });
    }

    fn handshake_rtt(&mut self, conn: u64, rtt_ns: i64) {
        self.add(Event::HandshakeRtt { conn, rtt_ns });
    }

    fn tcp_events(&mut self, conn: u64, frame: u64, ts: Timestamp, side: Side, events: TcpEvents) {
        self.add(Event::TcpEvents {
            conn,
            frame,
            ts,
            side,
            events,
        });
    }

    fn stream_data(
        &mut self,
        conn: u64,
        side: Side,
        offset: u64,
        bytes: &[u8],
        frame: u64,
        ts: Timestamp,
    ) {
        let bytes = self.batch.keep(bytes);
        self.add(Event::StreamData {
            conn,
            side,
            offset,
            bytes,
            frame,
            ts,
        });
    }

    fn stream_gap(&mut self, conn: u64, side: Side, offset: u64, len: u64) {
        self.add(Event::StreamGap {
            conn,
            side,
            offset,
            len,
        });
    }

    fn stream_end(&mut self, conn: u64, side: Side, how: StreamEnd) {
        self.add(Event::StreamEnd { conn, side, how });
    }

    fn datagram(&mut self, conn: u64, side: Side, payload: &[u8], frame: u64, ts: Timestamp) {
        let bytes = self.batch.keep(payload);
        self.add(Event::Datagram {
            conn,
            side,
            bytes,
            frame,
            ts,
        });
    }

    fn icmp_error(&mut self, conn: u64, note: &IcmpNote) {
        self.add(Event::IcmpError {
            conn,
            note: Box::new(note.clone()),
        });
    }

    fn connection(&mut self, record: ConnRecord) {
        self.add(Event::Connection(Box::new(record)));
    }

    fn clock(&mut self, ts: Timestamp) {
        self.add(Event::Clock(ts));
    }
}

impl<E> RelayReceiver<E> {
    /// The next batch, or `None` once the sink is dropped and all is replayed.
    pub fn recv(&self) -> Option<Batch<E>> {
        self.from.recv().ok()
    }

    /// Hands a replayed batch back for reuse.
    pub fn recycle(&self, batch: Batch<E>) {
        let _ = self.spare.try_send(batch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records every call as text.
    #[derive(Default)]
    struct Log(Vec<String>);

    impl FlowSink for Log {
        fn stream_data(
            &mut self,
            conn: u64,
            side: Side,
            offset: u64,
            bytes: &[u8],
            frame: u64,
            _: Timestamp,
        ) {
            self.0.push(format!(
                "data {conn} {} {offset} {} {frame}",
                side.as_str(),
                String::from_utf8_lossy(bytes)
            ));
        }
        fn stream_end(&mut self, conn: u64, side: Side, how: StreamEnd) {
            self.0.push(format!("end {conn} {} {how:?}", side.as_str()));
        }
        fn connection(&mut self, record: ConnRecord) {
            self.0.push(format!("conn {}", record.id));
        }
    }

    #[test]
    fn calls_arrive_in_order_across_batches_with_their_bytes() {
        let (mut sink, receiver) = relay::<String>();
        let producer = std::thread::spawn(move || {
            for i in 0..10_000u64 {
                let text = format!("payload-{i}");
                sink.stream_data(i, Side::Client, i * 10, text.as_bytes(), i, Timestamp(0));
                if i % 1000 == 0 {
                    sink.push(format!("note {i}"));
                }
            }
            sink.stream_end(7, Side::Server, StreamEnd::Fin);
            sink.flush();
        });
        let mut log = Log::default();
        while let Some(mut batch) = receiver.recv() {
            batch.replay(&mut log, |log, note| log.0.push(note));
            receiver.recycle(batch);
        }
        producer.join().unwrap();
        let mut want = Vec::new();
        for i in 0..10_000u64 {
            want.push(format!("data {i} client {} payload-{i} {i}", i * 10));
            if i % 1000 == 0 {
                want.push(format!("note {i}"));
            }
        }
        want.push("end 7 server Fin".to_string());
        assert_eq!(log.0, want);
    }

    #[test]
    fn a_gone_receiver_closes_the_sink_instead_of_blocking() {
        let (mut sink, receiver) = relay::<()>();
        drop(receiver);
        for i in 0..(BATCH_EVENTS as u64 * (IN_FLIGHT as u64 + 3)) {
            sink.stream_gap(i, Side::Client, 0, 1);
        }
        assert!(sink.is_closed());
    }
}

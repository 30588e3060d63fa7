//! Byte-by-byte builders for pcap and pcapng test captures.
//!
//! Deliberately independent of the crate's own writer (only `std` and `flate2`), so that
//! reading tests check the reader against the file format specifications and not against
//! our own understanding of them twice. Used by unit tests through
//! `#[path = "../../../tests/util/capture_builder.rs"]` and by integration tests as `util`.
#![allow(dead_code)]

use std::io::Write;

/// A classic pcap file under construction.
#[derive(Debug, Clone)]
pub struct PcapBuilder {
    buf: Vec<u8>,
    big_endian: bool,
}

impl PcapBuilder {
    /// Starts a file: global header with the given link type, snap length, byte order and
    /// timestamp precision (magic 0xa1b2c3d4 or 0xa1b23c4d written in that byte order).
    pub fn new(link: u32, snaplen: u32, big_endian: bool, nanos: bool) -> Self {
        let mut b = PcapBuilder {
            buf: Vec::new(),
            big_endian,
        };
        b.u32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
        b.u16(2);
        b.u16(4);
        b.u32(0); // thiszone
        b.u32(0); // sigfigs
        b.u32(snaplen);
        b.u32(link);
        b
    }

    fn u16(&mut self, v: u16) {
        let bytes = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&bytes);
    }

    fn u32(&mut self, v: u32) {
        let bytes = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&bytes);
    }

    /// Appends a record; `frac` is micro- or nanoseconds as the header says.
    pub fn packet(&mut self, ts_sec: u32, frac: u32, orig_len: u32, data: &[u8]) -> &mut Self {
        self.record(ts_sec, frac, data.len() as u32, orig_len, data)
    }

    /// Appends a record with an arbitrary (possibly lying) captured length field.
    pub fn record(
        &mut self,
        ts_sec: u32,
        frac: u32,
        caplen: u32,
        orig_len: u32,
        data: &[u8],
    ) -> &mut Self {
        self.u32(ts_sec);
        self.u32(frac);
        self.u32(caplen);
        self.u32(orig_len);
        self.buf.extend_from_slice(data);
        self
    }

    /// The file so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.buf.clone()
    }
}

/// A pcapng file under construction; starts with a section header block.
#[derive(Debug, Clone)]
pub struct PcapNgBuilder {
    buf: Vec<u8>,
    big_endian: bool,
}

/// Block type numbers from the pcapng specification.
pub mod block_type {
    /// Section Header Block.
    pub const SHB: u32 = 0x0a0d_0d0a;
    /// Interface Description Block.
    pub const IDB: u32 = 1;
    /// Obsolete Packet Block.
    pub const PB: u32 = 2;
    /// Simple Packet Block.
    pub const SPB: u32 = 3;
    /// Name Resolution Block.
    pub const NRB: u32 = 4;
    /// Interface Statistics Block.
    pub const ISB: u32 = 5;
    /// Enhanced Packet Block.
    pub const EPB: u32 = 6;
    /// Decryption Secrets Block.
    pub const DSB: u32 = 10;
    /// Custom Block (copiable).
    pub const CB: u32 = 0x0000_0bad;
}

impl PcapNgBuilder {
    /// Starts a file with one section header block in the given byte order.
    pub fn new(big_endian: bool) -> Self {
        let mut b = PcapNgBuilder {
            buf: Vec::new(),
            big_endian,
        };
        b.section();
        b
    }

    fn e16(&self, v: u16) -> [u8; 2] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn e32(&self, v: u32) -> [u8; 4] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    /// Appends a generic block: type, total length, body padded to 32 bits, length again.
    pub fn block(&mut self, btype: u32, body: &[u8]) -> &mut Self {
        let padded = body.len().div_ceil(4) * 4;
        let total = (12 + padded) as u32;
        let t = self.e32(btype);
        let l = self.e32(total);
        self.buf.extend_from_slice(&t);
        self.buf.extend_from_slice(&l);
        self.buf.extend_from_slice(body);
        self.buf.resize(self.buf.len() + padded - body.len(), 0);
        self.buf.extend_from_slice(&l);
        self
    }

    /// One option (code, length, value padded to 32 bits).
    pub fn option(&self, code: u16, value: &[u8]) -> Vec<u8> {
        let mut o = Vec::new();
        o.extend_from_slice(&self.e16(code));
        o.extend_from_slice(&self.e16(value.len() as u16));
        o.extend_from_slice(value);
        o.resize(o.len().div_ceil(4) * 4, 0);
        o
    }

    fn end_of_options(&self, opts: &mut Vec<u8>) {
        if !opts.is_empty() {
            opts.extend_from_slice(&[0, 0, 0, 0]);
        }
    }

    /// Starts a new section (SHB with an `shb_userappl` option and section length -1).
    pub fn section(&mut self) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.e32(0x1a2b_3c4d));
        body.extend_from_slice(&self.e16(1));
        body.extend_from_slice(&self.e16(0));
        body.extend_from_slice(&(-1i64).to_le_bytes());
        let mut opts = self.option(4, b"capture_builder");
        self.end_of_options(&mut opts);
        body.extend_from_slice(&opts);
        self.block(block_type::SHB, &body)
    }

    /// An interface: link type, snap length, optional `if_tsresol` byte and `if_tsoffset`.
    pub fn idb(
        &mut self,
        link: u16,
        snaplen: u32,
        tsresol: Option<u8>,
        tsoffset: Option<i64>,
    ) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.e16(link));
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&self.e32(snaplen));
        let mut opts = self.option(2, b"eth0");
        if let Some(r) = tsresol {
            opts.extend(self.option(9, &[r]));
        }
        if let Some(off) = tsoffset {
            let v = if self.big_endian {
                off.to_be_bytes()
            } else {
                off.to_le_bytes()
            };
            opts.extend(self.option(14, &v));
        }
        self.end_of_options(&mut opts);
        body.extend_from_slice(&opts);
        self.block(block_type::IDB, &body)
    }

    /// An enhanced packet block with a raw 64-bit timestamp in the interface's units and
    /// an `epb_flags` option (to check options after padded data are skipped).
    pub fn epb(&mut self, if_id: u32, ts: u64, orig_len: u32, data: &[u8]) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.e32(if_id));
        body.extend_from_slice(&self.e32((ts >> 32) as u32));
        body.extend_from_slice(&self.e32(ts as u32));
        body.extend_from_slice(&self.e32(data.len() as u32));
        body.extend_from_slice(&self.e32(orig_len));
        body.extend_from_slice(data);
        body.resize(body.len().div_ceil(4) * 4, 0);
        let mut opts = self.option(2, &self.e32(1));
        self.end_of_options(&mut opts);
        body.extend_from_slice(&opts);
        self.block(block_type::EPB, &body)
    }

    /// A simple packet block (interface 0, no timestamp).
    pub fn spb(&mut self, orig_len: u32, data: &[u8]) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.e32(orig_len));
        body.extend_from_slice(data);
        self.block(block_type::SPB, &body)
    }

    /// An obsolete packet block (type 2).
    pub fn opb(&mut self, if_id: u16, ts: u64, orig_len: u32, data: &[u8]) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.e16(if_id));
        body.extend_from_slice(&self.e16(0));
        body.extend_from_slice(&self.e32((ts >> 32) as u32));
        body.extend_from_slice(&self.e32(ts as u32));
        body.extend_from_slice(&self.e32(data.len() as u32));
        body.extend_from_slice(&self.e32(orig_len));
        body.extend_from_slice(data);
        self.block(block_type::PB, &body)
    }

    /// A name resolution block with one IPv4 record.
    pub fn nrb(&mut self) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.e16(1));
        body.extend_from_slice(&self.e16(4 + 8));
        body.extend_from_slice(&[10, 0, 0, 1]);
        body.extend_from_slice(b"host\0\0\0\0");
        body.extend_from_slice(&[0, 0, 0, 0]); // nrb_record_end
        self.block(block_type::NRB, &body)
    }

    /// An interface statistics block for `if_id`.
    pub fn isb(&mut self, if_id: u32) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.e32(if_id));
        body.extend_from_slice(&self.e32(0));
        body.extend_from_slice(&self.e32(0));
        let mut opts = self.option(4, &[0; 8]); // isb_ifrecv
        self.end_of_options(&mut opts);
        body.extend_from_slice(&opts);
        self.block(block_type::ISB, &body)
    }

    /// An interface statistics block with a raw timestamp and 64-bit counter options
    /// (code, value), e.g. `(4, recv)`, `(5, ifdrop)`, `(7, osdrop)`, as dumpcap writes.
    pub fn isb_counters(&mut self, if_id: u32, ts: u64, counters: &[(u16, u64)]) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.e32(if_id));
        body.extend_from_slice(&self.e32((ts >> 32) as u32));
        body.extend_from_slice(&self.e32(ts as u32));
        let mut opts = Vec::new();
        for (code, v) in counters {
            let v = if self.big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            };
            opts.extend(self.option(*code, &v));
        }
        self.end_of_options(&mut opts);
        body.extend_from_slice(&opts);
        self.block(block_type::ISB, &body)
    }

    /// A decryption secrets block.
    pub fn dsb(&mut self, secrets_type: u32, data: &[u8]) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.e32(secrets_type));
        body.extend_from_slice(&self.e32(data.len() as u32));
        body.extend_from_slice(data);
        self.block(block_type::DSB, &body)
    }

    /// Raw bytes appended as they are.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// The file so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.buf.clone()
    }
}

/// `data` as one gzip member.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

/// A deterministic pseudo-random packet payload of `len` bytes.
pub fn payload(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

//! Block-level decoding for [`super::FileSource`]: turns one parsed pcap record or
//! pcapng block into frame metadata, keeping per-section state (interfaces, byte order,
//! the last timestamp for SPBs, decryption secrets) up to date.

use pcap_parser::pcapng::{Block, InterfaceStatisticsBlock};
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::PcapBlockOwned;

use super::{read_u32, FileFormat, Meta, State, MAX_INTERFACES, MAX_SECRETS, NANOS};
use crate::base::{LinkType, Timestamp};
use crate::source::stats::isb_option;
use crate::source::InterfaceStats;

/// One pcapng interface, as far as reading packets needs it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Iface {
    pub(super) link: LinkType,
    pub(super) snaplen: u32,
    /// Timestamp units per second (`if_tsresol`).
    pub(super) units: u64,
    /// Seconds added to every timestamp (`if_tsoffset`).
    pub(super) offset: i64,
}

impl Iface {
    pub(super) fn ts(&self, raw: u64) -> Timestamp {
        let units = self.units.max(1);
        let secs = raw / units;
        let frac = raw % units;
        let nanos = if units <= NANOS && NANOS.is_multiple_of(units) {
            frac * (NANOS / units)
        } else {
            // Powers of two and sub-nanosecond units: exact floor in 128 bits.
            (u128::from(frac) * u128::from(NANOS) / u128::from(units)) as u64
        };
        let total =
            (i128::from(secs) + i128::from(self.offset)) * i128::from(NANOS) + i128::from(nanos);
        Timestamp(total.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
    }
}

/// Updates `st` from one block and returns the packet it holds, if any.
pub(super) fn handle_block(
    block: PcapBlockOwned<'_>,
    st: &mut State,
    base: usize,
) -> Result<Option<Meta>, String> {
    let at = |data: &[u8]| (data.as_ptr() as usize).wrapping_sub(base);
    let b = match block {
        PcapBlockOwned::LegacyHeader(_) => return Ok(None),
        PcapBlockOwned::Legacy(p) => {
            let unit = if matches!(st.format, FileFormat::Pcap { nanos: true, .. }) {
                1
            } else {
                1000
            };
            let ts = i64::from(p.ts_sec) * NANOS as i64 + i64::from(p.ts_usec) * unit;
            return Ok(Some(Meta {
                ts: Timestamp(ts),
                orig_len: p.origlen,
                link: st.link,
                interface: 0,
                start: at(p.data),
                len: p.data.len(),
            }));
        }
        PcapBlockOwned::NG(b) => b,
    };
    match b {
        Block::SectionHeader(shb) => {
            st.big_endian = shb.big_endian();
            st.ifaces.clear();
            st.sections = st.sections.saturating_add(1);
        }
        Block::InterfaceStatistics(isb) => interface_stats(&isb, st),
        Block::InterfaceDescription(idb) => {
            let id = st.ifaces.len();
            if id >= MAX_INTERFACES {
                return Err(format!(
                    "more than {MAX_INTERFACES} interfaces in one section"
                ));
            }
            let units = ts_units(idb.if_tsresol).ok_or_else(|| {
                format!(
                    "interface {id} has an impossible timestamp resolution (if_tsresol 0x{:02x})",
                    idb.if_tsresol
                )
            })?;
            let link = LinkType(idb.linktype.0 as u16 as u32);
            st.first_link.get_or_insert(link);
            st.ifaces.push(Iface {
                link,
                snaplen: idb.snaplen,
                units,
                offset: idb.if_tsoffset,
            });
        }
        Block::EnhancedPacket(epb) => {
            let iface = iface(st, epb.if_id, "an enhanced packet block")?;
            let data = epb.packet_data();
            let ts = iface.ts(u64::from(epb.ts_high) << 32 | u64::from(epb.ts_low));
            st.last_ts = ts;
            return Ok(Some(Meta {
                ts,
                orig_len: epb.origlen,
                link: iface.link,
                interface: epb.if_id,
                start: at(data),
                len: data.len(),
            }));
        }
        Block::SimplePacket(spb) => {
            let iface = iface(st, 0, "a simple packet block")?;
            let mut len = (spb.origlen as usize).min(spb.data.len());
            if iface.snaplen > 0 {
                len = len.min(iface.snaplen as usize);
            }
            let data = spb.data.get(..len).unwrap_or_default();
            return Ok(Some(Meta {
                ts: st.last_ts,
                orig_len: spb.origlen,
                link: iface.link,
                interface: 0,
                start: at(data),
                len,
            }));
        }
        Block::DecryptionSecrets(dsb) => {
            let data = dsb.data.get(..dsb.secrets_len as usize).unwrap_or(dsb.data);
            if st.secrets_bytes + data.len() <= MAX_SECRETS {
                st.secrets_bytes += data.len();
                st.secrets.push((dsb.secrets_type.0, data.to_vec()));
            }
        }
        Block::Unknown(ub) => {
            let kind = if st.big_endian {
                ub.block_type.swap_bytes()
            } else {
                ub.block_type
            };
            if kind == 2 {
                return obsolete_packet(ub.data, st).map(|(m, data)| {
                    Some(Meta {
                        start: at(data),
                        ..m
                    })
                });
            }
        }
        _ => {}
    }
    Ok(None)
}

/// Keeps the counters of one ISB, replacing the interface's earlier ones. Options
/// that are not 8 bytes long are ignored rather than guessed at.
fn interface_stats(isb: &InterfaceStatisticsBlock<'_>, st: &mut State) {
    let be = st.big_endian;
    let counter = |code: u16| {
        isb.options
            .iter()
            .find(|o| o.code.0 == code)
            .and_then(|o| o.as_bytes().ok())
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(|b| {
                if be {
                    u64::from_be_bytes(b)
                } else {
                    u64::from_le_bytes(b)
                }
            })
    };
    let taken = st
        .ifaces
        .get(isb.if_id as usize)
        .map(|i| i.ts(u64::from(isb.ts_high) << 32 | u64::from(isb.ts_low)))
        .unwrap_or_default();
    let stats = InterfaceStats {
        section: st.sections.saturating_sub(1),
        interface: isb.if_id,
        taken,
        received: counter(isb_option::IF_RECV).or(counter(isb_option::FILTER_ACCEPT)),
        dropped_by_interface: counter(isb_option::IF_DROP),
        dropped_by_os: counter(isb_option::OS_DROP),
    };
    let same =
        |s: &&mut InterfaceStats| s.section == stats.section && s.interface == stats.interface;
    if let Some(old) = st.stats.iter_mut().find(same) {
        *old = stats;
    } else if st.stats.len() < MAX_INTERFACES {
        st.stats.push(stats);
    }
}

/// Units per second for an `if_tsresol` byte: 10^n, or 2^n when the high bit is set.
/// (pcap-parser 0.17's own `ts_resolution` rejects every power of two.)
fn ts_units(tsresol: u8) -> Option<u64> {
    let n = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(n)
    } else {
        1u64.checked_shl(n)
    }
}

fn iface(st: &State, id: u32, what: &str) -> Result<Iface, String> {
    st.ifaces.get(id as usize).copied().ok_or_else(|| {
        format!(
            "{what} refers to interface {id}, but its section describes only {} interface(s)",
            st.ifaces.len()
        )
    })
}

/// The obsolete Packet Block (type 2): a 16-bit interface id and drop count, then the
/// same fields as an EPB.
fn obsolete_packet<'a>(body: &'a [u8], st: &mut State) -> Result<(Meta, &'a [u8]), String> {
    let be = st.big_endian;
    let short = || "packet block (obsolete type 2) is too short".to_string();
    let word = read_u32(body, 0, be).ok_or_else(short)?;
    let if_id = if be { word >> 16 } else { word & 0xffff };
    let ts_high = read_u32(body, 4, be).ok_or_else(short)?;
    let ts_low = read_u32(body, 8, be).ok_or_else(short)?;
    let caplen = read_u32(body, 12, be).ok_or_else(short)? as usize;
    let orig_len = read_u32(body, 16, be).ok_or_else(short)?;
    let data = body.get(20..20 + caplen).ok_or_else(|| {
        "packet block (obsolete type 2) has a captured length beyond its end".to_string()
    })?;
    let iface = iface(st, if_id, "a packet block")?;
    let ts = iface.ts(u64::from(ts_high) << 32 | u64::from(ts_low));
    st.last_ts = ts;
    Ok((
        Meta {
            ts,
            orig_len,
            link: iface.link,
            interface: if_id,
            start: 0,
            len: data.len(),
        },
        data,
    ))
}

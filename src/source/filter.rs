//! BPF filters: the same libpcap expression language for files and live captures.
//!
//! Live captures hand the expression to libpcap, which installs it in the kernel.
//! Frames from files are matched here with a program compiled offline by libpcap for
//! the frame's link type (one compile per link type: a pcapng file may mix them).

use pcap::{BpfProgram, Capture, Linktype};

use super::{Frame, LinkType, SourceError};

/// A compiled filter expression, matched against frames of any link type.
pub struct FrameFilter {
    expr: String,
    /// Programs compiled so far, one per link type seen; a handful at most.
    programs: Vec<(LinkType, BpfProgram)>,
}

impl FrameFilter {
    /// Builds a filter from an expression; `None` when the expression is empty.
    ///
    /// The syntax is checked at once against Ethernet (so typos fail before any
    /// input is read); each other link type compiles when first seen.
    pub fn new(expr: &str) -> Result<Option<FrameFilter>, SourceError> {
        let expr = expr.trim();
        if expr.is_empty() {
            return Ok(None);
        }
        let mut filter = FrameFilter {
            expr: expr.to_string(),
            programs: Vec::new(),
        };
        // Expressions that name link-layer fields do not compile for every link type,
        // so only a failure on Ethernet *and* on raw IP counts as a syntax error here.
        if filter.program(LinkType::ETHERNET).is_err() {
            filter.program(LinkType::RAW)?;
        }
        Ok(Some(filter))
    }

    /// The expression as given.
    pub fn expression(&self) -> &str {
        &self.expr
    }

    /// True when the frame passes the filter.
    pub fn matches(&mut self, frame: &Frame<'_>) -> Result<bool, SourceError> {
        Ok(self.program(frame.link)?.filter(frame.data))
    }

    fn program(&mut self, link: LinkType) -> Result<&BpfProgram, SourceError> {
        let index = match self.programs.iter().position(|(l, _)| *l == link) {
            Some(i) => i,
            None => {
                let program = compile(&self.expr, link)?;
                self.programs.push((link, program));
                self.programs.len() - 1
            }
        };
        Ok(&self.programs[index].1)
    }
}

fn compile(expr: &str, link: LinkType) -> Result<BpfProgram, SourceError> {
    // libpcap's dead handles take DLT_ numbers; they equal LINKTYPE_ numbers except
    // for raw IP, whose LINKTYPE_RAW (101) is DLT_RAW (12 on Linux).
    let dlt = match link {
        LinkType::RAW | LinkType::RAW_DLT14 => LinkType::RAW_DLT12.0,
        other => other.0,
    };
    let linktype = i32::try_from(dlt)
        .map(Linktype)
        .map_err(|_| SourceError::BadFilter {
            filter: expr.to_string(),
            message: format!("link type {} is out of range", link.0),
        })?;
    let dead = Capture::dead(linktype).map_err(|e| SourceError::Pcap(e.to_string()))?;
    dead.compile(expr, true)
        .map_err(|e| SourceError::BadFilter {
            filter: expr.to_string(),
            message: match e {
                pcap::Error::PcapError(msg) => format!("{msg} (for link type {link})"),
                other => other.to_string(),
            },
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::Timestamp;

    /// Ethernet + IPv4 + UDP 1234 -> 53, no payload.
    fn udp_frame() -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&[
            0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        f.extend_from_slice(&[0x04, 0xd2, 0, 53, 0, 8, 0, 0]);
        f
    }

    fn frame(link: LinkType, data: &[u8]) -> Frame<'_> {
        Frame {
            number: 1,
            ts: Timestamp(0),
            orig_len: data.len() as u32,
            link,
            interface: 0,
            data,
        }
    }

    #[test]
    fn empty_expression_is_no_filter() {
        assert!(FrameFilter::new("  ").unwrap().is_none());
    }

    #[test]
    fn matches_by_port_and_host() {
        let data = udp_frame();
        let f = frame(LinkType::ETHERNET, &data);
        let mut yes = FrameFilter::new("udp port 53 and host 10.0.0.2")
            .unwrap()
            .unwrap();
        let mut no = FrameFilter::new("tcp port 53").unwrap().unwrap();
        assert!(yes.matches(&f).unwrap());
        assert!(!no.matches(&f).unwrap());
    }

    #[test]
    fn compiles_per_link_type() {
        let eth = udp_frame();
        let raw = &eth[14..];
        let mut filter = FrameFilter::new("udp dst port 53").unwrap().unwrap();
        assert!(filter.matches(&frame(LinkType::ETHERNET, &eth)).unwrap());
        assert!(filter.matches(&frame(LinkType::RAW, raw)).unwrap());
        assert_eq!(filter.programs.len(), 2);
    }

    #[test]
    fn syntax_error_names_the_expression() {
        let err = FrameFilter::new("tcp prot 80").err().unwrap();
        let msg = err.to_string();
        assert!(msg.contains("tcp prot 80"), "{msg}");
        assert!(
            msg.contains("syntax error") || msg.contains("unknown"),
            "{msg}"
        );
    }
}

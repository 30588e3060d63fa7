//! Live capture through libpcap.
//!
//! Immediate mode is on by default so packets reach us as they arrive rather than
//! when a kernel block fills.
//!
//! Stopping (Ctrl-C, SIGTERM, `--duration`) never loses what the kernel already
//! holds. libpcap retries its poll internally on read timeouts, so a blocked read
//! never returns on its own when the wire is quiet: a small watcher thread calls
//! `pcap_breakloop` (which wakes the poll) once the stop flag or the deadline is
//! reached. The source then switches to non-blocking reads and drains until the
//! kernel has been quiet for longer than its block-retire timeout (the read
//! timeout, when immediate mode is off and TPACKET_V3 batches packets in blocks),
//! so a partly filled block is handed over too. tcpdump, which leaves its loop at
//! once, loses such packets.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pcap::{Active, Capture, Device, Precision};

use super::{Frame, FrameSource, LinkType, SourceError, Timestamp};

/// How long one blocking read waits before the stop conditions are checked again.
const POLL_TIMEOUT_MS: i32 = 100;

/// Longest time spent draining after a stop: traffic that keeps arriving must not
/// keep us from stopping.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Draining ends after this long without a packet: longer than the kernel's
/// block-retire timeout (equal to the read timeout), so no partial block is missed.
const DRAIN_QUIET: Duration = Duration::from_millis(POLL_TIMEOUT_MS as u64 + 50);

/// How often the watcher thread looks at the stop flag and the deadline.
const WATCH_INTERVAL: Duration = Duration::from_millis(10);

/// Once [`LiveSource::next_event`] is used, how often the watcher wakes a
/// blocked read so that a quiet wire still yields [`LiveEvent::Idle`].
const TICK_WAKE: Duration = Duration::from_millis(250);

/// What to capture and how.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Interface name, or `any`.
    pub interface: String,
    /// Bytes kept per packet.
    pub snaplen: u32,
    /// Put the interface in promiscuous mode.
    pub promisc: bool,
    /// Kernel buffer size in bytes, libpcap's default when `None`.
    pub buffer_size: Option<u32>,
    /// Deliver packets as they arrive (libpcap immediate mode).
    pub immediate: bool,
    /// BPF filter expression, compiled by libpcap and run in the kernel.
    pub filter: Option<String>,
    /// Stop after this long (wall-clock time: this is the capture itself).
    pub duration: Option<Duration>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            interface: "any".into(),
            snaplen: 262_144,
            promisc: true,
            buffer_size: None,
            immediate: true,
            filter: None,
            duration: None,
        }
    }
}

/// Counters from libpcap at the end of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CaptureStats {
    /// Packets that passed the filter, as the kernel counted them.
    pub received: u32,
    /// Dropped because the kernel buffer was full.
    pub dropped_by_kernel: u32,
    /// Dropped by the interface or its driver.
    pub dropped_by_interface: u32,
}

#[derive(Debug, Clone, Copy)]
struct Drain {
    started: Instant,
    last_packet: Instant,
}

/// A running live capture.
pub struct LiveSource {
    capture: Option<Capture<Active>>,
    link: LinkType,
    interface: String,
    stop: Arc<AtomicBool>,
    deadline: Option<Instant>,
    /// Tells the watcher thread to exit when the source is dropped.
    closed: Arc<AtomicBool>,
    /// Asks the watcher to wake blocked reads every [`TICK_WAKE`].
    ticks: Arc<AtomicBool>,
    /// While draining after a stop: when it began and when the last packet came.
    draining: Option<Drain>,
    number: u64,
    /// The current frame's bytes: copied out of libpcap's ring so that the borrow
    /// handed to the caller does not pin the capture handle.
    buf: Vec<u8>,
    /// [`LiveSource::next_event`]: when it last returned.
    last_event: Instant,
}

/// What [`LiveSource::next_event`] gives.
#[derive(Debug)]
pub enum LiveEvent<'a> {
    /// A packet.
    Frame(Frame<'a>),
    /// No packet for the idle interval asked for: time for the caller to
    /// move its clock on.
    Idle,
    /// The capture stopped (and is drained).
    End,
}

impl LiveSource {
    /// Opens and activates the capture. `stop` is the flag a signal handler sets.
    pub fn open(options: &LiveOptions, stop: Arc<AtomicBool>) -> Result<LiveSource, SourceError> {
        check_interface_exists(&options.interface)?;
        let mut inactive = Capture::from_device(options.interface.as_str())
            .map_err(|e| pcap_error(&options.interface, e))?
            .promisc(options.promisc)
            .snaplen(i32::try_from(options.snaplen).unwrap_or(i32::MAX))
            .immediate_mode(options.immediate)
            .precision(Precision::Nano)
            .timeout(POLL_TIMEOUT_MS);
        if let Some(size) = options.buffer_size {
            inactive = inactive.buffer_size(i32::try_from(size).unwrap_or(i32::MAX));
        }
        let mut capture = inactive
            .open()
            .map_err(|e| pcap_error(&options.interface, e))?;
        if let Some(expr) = options.filter.as_deref().filter(|f| !f.trim().is_empty()) {
            capture
                .filter(expr, true)
                .map_err(|e| SourceError::BadFilter {
                    filter: expr.to_string(),
                    message: match e {
                        pcap::Error::PcapError(m) => m,
                        other => other.to_string(),
                    },
                })?;
        }
        let link = from_dlt(capture.get_datalink().0);
        let deadline = options.duration.map(|d| Instant::now() + d);
        let closed = Arc::new(AtomicBool::new(false));
        let ticks = Arc::new(AtomicBool::new(false));
        spawn_watcher(
            capture.breakloop_handle(),
            Arc::clone(&stop),
            deadline,
            Arc::clone(&closed),
            Arc::clone(&ticks),
        );
        Ok(LiveSource {
            capture: Some(capture),
            link,
            interface: options.interface.clone(),
            stop,
            deadline,
            closed,
            ticks,
            draining: None,
            number: 0,
            buf: Vec::with_capacity(options.snaplen.min(262_144) as usize),
            last_event: Instant::now(),
        })
    }

    /// Link type of the frames this capture delivers.
    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// libpcap's counters so far.
    pub fn stats(&mut self) -> Result<CaptureStats, SourceError> {
        let capture = self
            .capture
            .as_mut()
            .ok_or_else(|| closed(&self.interface))?;
        let s = capture
            .stats()
            .map_err(|e| SourceError::Pcap(e.to_string()))?;
        Ok(CaptureStats {
            received: s.received,
            dropped_by_kernel: s.dropped,
            dropped_by_interface: s.if_dropped,
        })
    }

    fn should_stop(&self) -> bool {
        stop_due(&self.stop, self.deadline)
    }

    /// Switches to non-blocking reads to empty the kernel queue.
    fn start_draining(&mut self) -> Result<(), SourceError> {
        let capture = self.capture.take().ok_or_else(|| closed(&self.interface))?;
        let capture = capture
            .setnonblock()
            .map_err(|e| pcap_error(&self.interface, e))?;
        self.capture = Some(capture);
        let now = Instant::now();
        self.draining = Some(Drain {
            started: now,
            last_packet: now,
        });
        Ok(())
    }
}

impl FrameSource for LiveSource {
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, SourceError> {
        self.next(None).map(|e| match e {
            LiveEvent::Frame(f) => Some(f),
            LiveEvent::Idle | LiveEvent::End => None,
        })
    }
}

impl LiveSource {
    /// The next packet, or [`LiveEvent::Idle`] once no packet came for
    /// `idle` (checked every 250 ms), or the end.
    pub fn next_event(&mut self, idle: Duration) -> Result<LiveEvent<'_>, SourceError> {
        // libpcap retries its poll on read time-outs: only the watcher's
        // breakloop gets a blocked read back on a quiet wire.
        self.ticks.store(true, Ordering::Relaxed);
        self.next(Some(idle))
    }

    fn next(&mut self, idle: Option<Duration>) -> Result<LiveEvent<'_>, SourceError> {
        loop {
            if self.draining.is_none() && self.should_stop() {
                self.start_draining()?;
            }
            let poll_started = Instant::now();
            if let Some(drain) = self.draining {
                if poll_started - drain.started >= DRAIN_LIMIT {
                    return Ok(LiveEvent::End);
                }
            }
            let capture = self
                .capture
                .as_mut()
                .ok_or_else(|| closed(&self.interface))?;
            match capture.next_packet() {
                Ok(packet) => {
                    let header = *packet.header;
                    self.buf.clear();
                    self.buf.extend_from_slice(packet.data);
                    self.number += 1;
                    if let Some(drain) = self.draining.as_mut() {
                        drain.last_packet = Instant::now();
                    }
                    self.last_event = Instant::now();
                    return Ok(LiveEvent::Frame(Frame {
                        number: self.number,
                        ts: Timestamp::from_parts(
                            header.ts.tv_sec,
                            u64::try_from(header.ts.tv_usec).unwrap_or(0),
                            1_000_000_000,
                        ),
                        orig_len: header.len,
                        link: self.link,
                        interface: 0,
                        data: &self.buf,
                    }));
                }
                // Non-blocking and nothing queued right now: look again shortly,
                // a kernel block may still be retired.
                // Done only when a poll that *started* after the quiet interval
                // found nothing: a thread descheduled for a while (a loaded
                // machine) must still look once more before it gives up.
                Err(pcap::Error::TimeoutExpired) if self.draining.is_some() => {
                    if self
                        .draining
                        .is_some_and(|d| poll_started - d.last_packet >= DRAIN_QUIET)
                    {
                        return Ok(LiveEvent::End);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                // pcap_breakloop: the watcher saw the stop (or a late breakloop
                // arriving while we already drain, which changes nothing).
                Err(pcap::Error::NoMorePackets) | Err(pcap::Error::TimeoutExpired) => {
                    if idle.is_some_and(|i| self.last_event.elapsed() >= i) {
                        self.last_event = Instant::now();
                        return Ok(LiveEvent::Idle);
                    }
                }
                Err(e) => return Err(pcap_error(&self.interface, e)),
            }
        }
    }
}

impl Drop for LiveSource {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::Relaxed);
    }
}

fn stop_due(stop: &AtomicBool, deadline: Option<Instant>) -> bool {
    stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d)
}

/// Wakes a blocked read with `pcap_breakloop` once a stop is due, and every
/// [`TICK_WAKE`] once `ticks` is set (the reader then sees whether it has been
/// idle long enough; a wake-up costs one empty return).
fn spawn_watcher(
    breaker: pcap::BreakLoop,
    stop: Arc<AtomicBool>,
    deadline: Option<Instant>,
    closed: Arc<AtomicBool>,
    ticks: Arc<AtomicBool>,
) {
    std::thread::spawn(move || {
        let mut last_wake = Instant::now();
        while !closed.load(Ordering::Relaxed) {
            if stop_due(&stop, deadline) {
                breaker.breakloop();
                return;
            }
            if ticks.load(Ordering::Relaxed) && last_wake.elapsed() >= TICK_WAKE {
                breaker.breakloop();
                last_wake = Instant::now();
            }
            std::thread::sleep(WATCH_INTERVAL);
        }
    });
}

/// One capture device with its addresses, for `interfaces`.
#[derive(Debug, Clone)]
pub struct InterfaceInfo {
    /// Device name to pass to `-i`.
    pub name: String,
    /// libpcap's description, if any.
    pub description: Option<String>,
    /// Addresses with their prefix length when known.
    pub addresses: Vec<String>,
    /// Flags such as Up, Running, Loopback.
    pub flags: Vec<&'static str>,
}

/// Every device libpcap can capture on, in libpcap's order.
pub fn list_interfaces() -> Result<Vec<InterfaceInfo>, SourceError> {
    let devices = Device::list().map_err(|e| SourceError::Pcap(e.to_string()))?;
    Ok(devices.into_iter().map(interface_info).collect())
}

fn interface_info(device: Device) -> InterfaceInfo {
    let mut flags = Vec::new();
    if device.flags.is_up() {
        flags.push("Up");
    }
    if device.flags.is_running() {
        flags.push("Running");
    }
    if device.flags.is_loopback() {
        flags.push("Loopback");
    }
    if device.flags.is_wireless() {
        flags.push("Wireless");
    }
    let addresses = device
        .addresses
        .iter()
        .map(|a| match a.netmask.and_then(prefix_len) {
            Some(p) => format!("{}/{}", a.addr, p),
            None => a.addr.to_string(),
        })
        .collect();
    InterfaceInfo {
        name: device.name,
        description: device.desc,
        addresses,
        flags,
    }
}

fn prefix_len(mask: std::net::IpAddr) -> Option<u32> {
    let ones = match mask {
        std::net::IpAddr::V4(m) => u32::from(m).count_ones(),
        std::net::IpAddr::V6(m) => u128::from(m).count_ones(),
    };
    Some(ones)
}

fn check_interface_exists(name: &str) -> Result<(), SourceError> {
    if name == "any" {
        return Ok(());
    }
    let Ok(devices) = Device::list() else {
        return Ok(()); // let libpcap itself report the problem on open
    };
    if devices.iter().any(|d| d.name == name) {
        return Ok(());
    }
    let available: Vec<String> = devices.into_iter().map(|d| d.name).collect();
    Err(SourceError::NoSuchInterface {
        interface: name.to_string(),
        available: if available.is_empty() {
            "none found (are you allowed to list devices?)".into()
        } else {
            available.join(", ")
        },
    })
}

/// DLT numbers as libpcap reports them, mapped to LINKTYPE numbers used in files.
fn from_dlt(dlt: i32) -> LinkType {
    match u32::try_from(dlt) {
        Ok(12) | Ok(14) => LinkType::RAW,
        Ok(n) => LinkType(n),
        Err(_) => LinkType(u32::MAX),
    }
}

fn closed(interface: &str) -> SourceError {
    SourceError::Pcap(format!("capture on {interface} is already closed"))
}

fn pcap_error(interface: &str, error: pcap::Error) -> SourceError {
    let message = match error {
        pcap::Error::PcapError(m) => m,
        other => other.to_string(),
    };
    let lower = message.to_ascii_lowercase();
    if lower.contains("permission") || lower.contains("operation not permitted") {
        return SourceError::Permission {
            interface: interface.to_string(),
            detail: message,
            binary: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "netsleuth".into()),
        };
    }
    if lower.contains("no such device") {
        let available = list_interfaces()
            .map(|l| l.into_iter().map(|i| i.name).collect::<Vec<_>>().join(", "))
            .unwrap_or_default();
        return SourceError::NoSuchInterface {
            interface: interface.to_string(),
            available,
        };
    }
    SourceError::Pcap(format!("{interface}: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dlt_raw_maps_to_linktype_raw() {
        assert_eq!(from_dlt(12), LinkType::RAW);
        assert_eq!(from_dlt(1), LinkType::ETHERNET);
        assert_eq!(from_dlt(276), LinkType::LINUX_SLL2);
    }

    #[test]
    fn netmask_prefix() {
        assert_eq!(prefix_len("255.255.255.0".parse().unwrap()), Some(24));
        assert_eq!(
            prefix_len("ffff:ffff:ffff:ffff::".parse().unwrap()),
            Some(64)
        );
    }

    #[test]
    fn permission_message_becomes_permission_error_with_fix() {
        let e = pcap_error(
            "lo",
            pcap::Error::PcapError(
                "lo: You don't have permission to perform this capture on that device".into(),
            ),
        );
        let msg = e.to_string();
        assert!(matches!(e, SourceError::Permission { .. }));
        assert!(
            msg.contains("setcap cap_net_raw,cap_net_admin=eip"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_interface_lists_real_ones() {
        let err = check_interface_exists("nosuchif0").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("nosuchif0") && msg.contains("lo"), "{msg}");
    }
}

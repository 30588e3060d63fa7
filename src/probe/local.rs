//! Errors that say the probing host ran out of something, not that the network
//! or the server failed: file descriptors (`EMFILE`, `ENFILE`), ephemeral ports
//! (`EADDRNOTAVAIL` from connect or bind, `EAGAIN` from connect), socket
//! buffers or kernel memory (`ENOBUFS`, `ENOMEM`). They become
//! `local.resource_exhausted` naming the limit to raise, never
//! `tcp.connect_refused` or `dns.timeout`.
//!
//! Told apart by the raw OS error number (Linux values; `io::ErrorKind` has no
//! kind for most of them).

use std::io;

/// Linux errno values this module recognises.
mod errno {
    pub const EAGAIN: i32 = 11;
    pub const ENOMEM: i32 = 12;
    pub const ENFILE: i32 = 23;
    pub const EMFILE: i32 = 24;
    pub const EADDRNOTAVAIL: i32 = 99;
    pub const ENOBUFS: i32 = 105;
}

/// Which local resource ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// This process's open-file limit (`EMFILE`).
    FileDescriptors,
    /// The whole system's open-file table (`ENFILE`).
    SystemFileTable,
    /// No local port left to connect from (`EADDRNOTAVAIL`, `EAGAIN`).
    EphemeralPorts,
    /// Socket buffers or kernel memory (`ENOBUFS`, `ENOMEM`).
    SocketBuffers,
}

impl Resource {
    /// The resource in words.
    pub fn describe(self) -> &'static str {
        match self {
            Resource::FileDescriptors => "its open-file limit (file descriptors)",
            Resource::SystemFileTable => "the system-wide open-file table",
            Resource::EphemeralPorts => "local (ephemeral) ports to connect from",
            Resource::SocketBuffers => "socket buffer memory",
        }
    }

    /// The limit to raise, as a next step.
    pub fn next_step(self) -> &'static str {
        match self {
            Resource::FileDescriptors => "raise the open-file limit (ulimit -n, or LimitNOFILE= in the systemd unit, or nofile in /etc/security/limits.conf), and look for descriptors leaked by the calling process (ls /proc/PID/fd | wc -l)",
            Resource::SystemFileTable => "raise the system-wide limit (sysctl fs.file-max) and find the process holding most descriptors",
            Resource::EphemeralPorts => "widen net.ipv4.ip_local_port_range, enable net.ipv4.tcp_tw_reuse, and reuse connections (keep-alive, a pool) instead of opening one per call; ss -tan state time-wait | wc -l shows the ports held",
            Resource::SocketBuffers => "the kernel is short of socket buffer memory: check net.core.rmem_max / wmem_max and net.ipv4.tcp_mem, and free memory on the host",
        }
    }
}

/// A local resource error: which resource, and what the OS said.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LocalLimit {
    /// The resource that ran out.
    pub resource: Resource,
    /// The OS's own words, e.g. `Too many open files (os error 24)`.
    pub error: String,
}

/// What kind of call failed: `EAGAIN` means "no ephemeral port" only from a
/// connect (elsewhere it is a plain would-block).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// Creating or binding a socket.
    Socket,
    /// Connecting it.
    Connect,
}

/// The local resource `e` says ran out, if it says so.
pub fn exhausted(e: &io::Error, call: Call) -> Option<LocalLimit> {
    let resource = match (e.raw_os_error()?, call) {
        (errno::EMFILE, _) => Resource::FileDescriptors,
        (errno::ENFILE, _) => Resource::SystemFileTable,
        (errno::EADDRNOTAVAIL, _) | (errno::EAGAIN, Call::Connect) => Resource::EphemeralPorts,
        (errno::ENOBUFS | errno::ENOMEM, _) => Resource::SocketBuffers,
        _ => return None,
    };
    Some(LocalLimit {
        resource,
        error: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(n: i32, call: Call) -> Option<Resource> {
        exhausted(&io::Error::from_raw_os_error(n), call).map(|l| l.resource)
    }

    #[test]
    fn os_errors_map_to_the_resource_to_raise() {
        assert_eq!(os(24, Call::Socket), Some(Resource::FileDescriptors));
        assert_eq!(os(23, Call::Connect), Some(Resource::SystemFileTable));
        assert_eq!(os(99, Call::Connect), Some(Resource::EphemeralPorts));
        assert_eq!(os(99, Call::Socket), Some(Resource::EphemeralPorts));
        assert_eq!(os(11, Call::Connect), Some(Resource::EphemeralPorts));
        assert_eq!(os(11, Call::Socket), None);
        assert_eq!(os(105, Call::Socket), Some(Resource::SocketBuffers));
        assert_eq!(os(12, Call::Connect), Some(Resource::SocketBuffers));
        // Refused, unreachable and timed out are the network's, not ours.
        for n in [111, 113, 101, 110] {
            assert_eq!(os(n, Call::Connect), None, "errno {n}");
        }
        assert!(exhausted(&io::Error::other("x"), Call::Connect).is_none());
    }

    #[test]
    fn message_keeps_the_os_words() {
        let l = exhausted(&io::Error::from_raw_os_error(24), Call::Socket).unwrap();
        assert!(l.error.contains("os error 24"), "{}", l.error);
        assert!(l.resource.next_step().contains("ulimit -n"));
        assert!(Resource::EphemeralPorts
            .next_step()
            .contains("ip_local_port_range"));
    }
}

//! `netsleuth interfaces`: the devices libpcap can capture on, like `tcpdump -D`.

use std::io::Write;

use super::CommandError;
use crate::source::live::list_interfaces;

/// Prints one numbered line per device: name, flags, description and addresses.
pub fn run(out: &mut dyn Write) -> Result<usize, CommandError> {
    let interfaces = list_interfaces()?;
    for (i, iface) in interfaces.iter().enumerate() {
        write!(out, "{}.{}", i + 1, iface.name)?;
        if let Some(desc) = &iface.description {
            write!(out, " ({desc})")?;
        }
        if !iface.flags.is_empty() {
            write!(out, " [{}]", iface.flags.join(", "))?;
        }
        if !iface.addresses.is_empty() {
            write!(out, " {}", iface.addresses.join(" "))?;
        }
        writeln!(out)?;
    }
    out.flush()?;
    Ok(interfaces.len())
}

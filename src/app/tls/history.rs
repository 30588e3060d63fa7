//! Zeek's `ssl_history`: one letter per plaintext handshake message,
//! ChangeCipherSpec, alert and heartbeat record, upper-case when the client
//! sent it and lower-case when the server did, in the order seen.
//!
//! The letters are Zeek's (its SSL script's table), so the field reads the
//! same in our ssl.log as in Zeek's. Protected records add nothing: Zeek
//! cannot read them either (and stops looking once the handshake is done).

use crate::base::Side;

/// At most this many letters are kept (Zeek's `max_ssl_history_length`).
pub const MAX_HISTORY: usize = 100;

/// The letters so far, bounded by [`MAX_HISTORY`].
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct History(String);

impl History {
    /// Adds `letter` (lower-case) for a message from `side`.
    pub(super) fn push(&mut self, side: Side, letter: u8) {
        if self.0.len() >= MAX_HISTORY {
            return;
        }
        let c = char::from(letter);
        self.0.push(match side {
            Side::Client => c.to_ascii_uppercase(),
            Side::Server => c.to_ascii_lowercase(),
        });
    }

    /// The letters as Zeek writes them.
    pub(super) fn as_str(&self) -> &str {
        &self.0
    }
}

/// Content types with a letter of their own (handshake messages have theirs).
pub(super) mod letter {
    /// ChangeCipherSpec.
    pub const CHANGE_CIPHER_SPEC: u8 = b'i';
    /// A plaintext alert.
    pub const ALERT: u8 = b'l';
    /// A plaintext heartbeat.
    pub const HEARTBEAT: u8 = b'b';
}

/// The letter of handshake message type `ty`; a ServerHello that is a
/// HelloRetryRequest (`hrr`) gets the HelloRetryRequest's letter, as in Zeek.
pub(super) fn handshake_letter(ty: u8, hrr: bool) -> u8 {
    match ty {
        0 => b'h',
        1 => b'c',
        2 if hrr => b'j',
        2 => b's',
        3 => b'v',
        4 => b't',
        5 => b'e',
        6 => b'j',
        8 => b'o',
        11 => b'x',
        12 => b'k',
        13 => b'r',
        14 => b'n',
        15 => b'y',
        16 => b'g',
        20 => b'f',
        21 => b'w',
        22 => b'u',
        23 => b'a',
        24 => b'p',
        254 => b'm',
        _ => b'z',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_by_side_and_bounded() {
        let mut h = History::default();
        h.push(Side::Client, handshake_letter(1, false));
        h.push(Side::Server, handshake_letter(2, false));
        h.push(Side::Server, handshake_letter(2, true));
        h.push(Side::Client, letter::CHANGE_CIPHER_SPEC);
        h.push(Side::Server, handshake_letter(99, false));
        assert_eq!(h.as_str(), "CsjIz");
        for _ in 0..500 {
            h.push(Side::Client, b'x');
        }
        assert_eq!(h.as_str().len(), MAX_HISTORY);
    }
}

//! Body framing, the one implementation: fixed length, chunked (sizes, extensions,
//! trailers) and close-delimited. Bodies are never buffered here, only counted
//! (and handed to a caller's closure by [`Body::feed_with`] when it keeps them); the
//! chunked decoder is a byte-at-a-time state machine so any segmentation of the
//! stream gives the same result.

use super::head::Length;

/// Longest chunk-size line (size, extensions) or trailer section accepted.
const MAX_CHUNK_META_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading the hex size.
    Size { value: u64, digits: u32 },
    /// After the size: whitespace or an extension, up to the line end.
    SizeRest { value: u64 },
    /// Expecting the LF of the size line (CR seen).
    SizeLf { value: u64 },
    /// Inside chunk data.
    Data { left: u64 },
    /// After chunk data: CR or LF.
    DataCr,
    /// After chunk data's CR: LF.
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer field line.
    TrailerLine,
    /// CR of the final empty line seen.
    TrailerEndLf,
}

/// Reads one message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Body {
    kind: Kind,
    /// Chunk-size lines and trailers read so far (bounded).
    meta: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fixed(u64),
    Chunked(Chunk),
    Close,
    Done,
}

/// What one call to [`Body::feed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Fed {
    /// Input bytes consumed (the rest belongs to the next message).
    pub consumed: usize,
    /// Body payload bytes among them (chunk framing excluded).
    pub payload: u64,
}

/// Why a body could not be followed further.
pub(crate) type FramingError = &'static str;

impl Body {
    /// A reader for a body of `length`; `None` bodies start done.
    pub fn new(length: Length) -> Body {
        let kind = match length {
            Length::None | Length::Fixed(0) => Kind::Done,
            Length::Fixed(n) => Kind::Fixed(n),
            Length::Chunked => Kind::Chunked(Chunk::Size {
                value: 0,
                digits: 0,
            }),
            Length::Close => Kind::Close,
        };
        Body { kind, meta: 0 }
    }

    /// True once the body's last byte was read.
    pub fn is_done(&self) -> bool {
        self.kind == Kind::Done
    }

    /// True when only the sender's close ends the body.
    pub fn is_close_delimited(&self) -> bool {
        self.kind == Kind::Close
    }

    /// Payload bytes still expected of a fixed-length body.
    pub fn fixed_left(&self) -> Option<u64> {
        match self.kind {
            Kind::Fixed(n) => Some(n),
            _ => None,
        }
    }

    /// Consumes body bytes from the start of `input`, stopping at the body's end.
    pub fn feed(&mut self, input: &[u8]) -> Result<Fed, FramingError> {
        self.feed_with(input, |_| {})
    }

    /// As [`Body::feed`], handing each run of payload bytes (chunk framing
    /// removed) to `payload`, in order.
    pub fn feed_with(
        &mut self,
        input: &[u8],
        mut payload: impl FnMut(&[u8]),
    ) -> Result<Fed, FramingError> {
        let mut fed = Fed::default();
        while fed.consumed < input.len() {
            let rest = input.get(fed.consumed..).unwrap_or_default();
            match self.kind {
                Kind::Done => break,
                Kind::Close => {
                    payload(rest);
                    fed.consumed += rest.len();
                    fed.payload += rest.len() as u64;
                }
                Kind::Fixed(left) => {
                    let take = left.min(rest.len() as u64);
                    payload(rest.get(..take as usize).unwrap_or_default());
                    fed.consumed += take as usize;
                    fed.payload += take;
                    self.kind = if take == left {
                        Kind::Done
                    } else {
                        Kind::Fixed(left - take)
                    };
                }
                Kind::Chunked(Chunk::Data { left }) => {
                    let take = left.min(rest.len() as u64);
                    payload(rest.get(..take as usize).unwrap_or_default());
                    fed.consumed += take as usize;
                    fed.payload += take;
                    self.kind = Kind::Chunked(if take == left {
                        Chunk::DataCr
                    } else {
                        Chunk::Data { left: left - take }
                    });
                }
                Kind::Chunked(state) => {
                    let Some(&b) = rest.first() else { break };
                    fed.consumed += 1;
                    self.chunk_byte(state, b)?;
                }
            }
        }
        Ok(fed)
    }

    fn chunk_byte(&mut self, state: Chunk, b: u8) -> Result<(), FramingError> {
        if !matches!(state, Chunk::DataCr | Chunk::DataLf) {
            self.meta += 1;
            if self.meta > MAX_CHUNK_META_BYTES {
                return Err("chunk-size line or trailers longer than 8 KiB");
            }
        }
        let next = match state {
            // Leading zeros are fine (`000a` is 10); a size that needs more
            // than 64 bits loses the framing (Zeek's `int64_t` would wrap).
            Chunk::Size { value, digits } => match (b as char).to_digit(16) {
                Some(d) if value <= u64::MAX >> 4 => Chunk::Size {
                    value: (value << 4) | u64::from(d),
                    digits: digits.saturating_add(1),
                },
                Some(_) => return Err("chunk size overflows 64 bits"),
                None if digits == 0 => return Err("chunk size is not a hex number"),
                None => match b {
                    b';' | b' ' | b'\t' => Chunk::SizeRest { value },
                    b'\r' => Chunk::SizeLf { value },
                    b'\n' => self.after_size(value),
                    _ => return Err("invalid byte after the chunk size"),
                },
            },
            Chunk::SizeRest { value } => match b {
                b'\r' => Chunk::SizeLf { value },
                b'\n' => self.after_size(value),
                _ => Chunk::SizeRest { value },
            },
            Chunk::SizeLf { value } => match b {
                b'\n' => self.after_size(value),
                _ => return Err("chunk-size line: CR not followed by LF"),
            },
            Chunk::DataCr => match b {
                b'\r' => Chunk::DataLf,
                b'\n' => self.next_chunk(),
                _ => return Err("chunk data not followed by CRLF"),
            },
            Chunk::DataLf => match b {
                b'\n' => self.next_chunk(),
                _ => return Err("chunk data not followed by CRLF"),
            },
            Chunk::TrailerStart => match b {
                b'\r' => Chunk::TrailerEndLf,
                b'\n' => {
                    self.kind = Kind::Done;
                    return Ok(());
                }
                _ => Chunk::TrailerLine,
            },
            Chunk::TrailerLine => match b {
                b'\n' => Chunk::TrailerStart,
                _ => Chunk::TrailerLine,
            },
            Chunk::TrailerEndLf => match b {
                b'\n' => {
                    self.kind = Kind::Done;
                    return Ok(());
                }
                _ => return Err("trailer section: CR not followed by LF"),
            },
            Chunk::Data { .. } => state,
        };
        self.kind = Kind::Chunked(next);
        Ok(())
    }

    fn after_size(&mut self, value: u64) -> Chunk {
        if value == 0 {
            Chunk::TrailerStart
        } else {
            Chunk::Data { left: value }
        }
    }

    fn next_chunk(&mut self) -> Chunk {
        // Each chunk-size line gets its own allowance; trailers share one.
        self.meta = 0;
        Chunk::Size {
            value: 0,
            digits: 0,
        }
    }

    /// `len` bytes of the body are missing from the capture. Inside chunk data or a
    /// fixed-length body, or anywhere in a close-delimited body, they are counted
    /// (`Ok(len)`); anywhere else the framing is lost (`Err`).
    pub fn skip(&mut self, len: u64) -> Result<u64, FramingError> {
        match self.kind {
            Kind::Close => Ok(len),
            Kind::Fixed(left) if len <= left => {
                self.kind = if len == left {
                    Kind::Done
                } else {
                    Kind::Fixed(left - len)
                };
                Ok(len)
            }
            Kind::Chunked(Chunk::Data { left }) if len <= left => {
                self.kind = Kind::Chunked(if len == left {
                    Chunk::DataCr
                } else {
                    Chunk::Data { left: left - len }
                });
                Ok(len)
            }
            _ => Err("bytes missing from the capture across a message boundary or chunk header"),
        }
    }

    /// The sender closed: a close-delimited body ends here.
    pub fn close(&mut self) {
        if self.kind == Kind::Close {
            self.kind = Kind::Done;
        }
    }
}

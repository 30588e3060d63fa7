//! The `profile.proto` wire: the messages below the top level, written by
//! hand from the published field numbers for prost's derive, and a small
//! walker for the top-level `Profile` message and for sniffing.

/// `ValueType`: a sample type or the period type, as string indices.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct ValueType {
    #[prost(int64, tag = "1")]
    pub(super) r#type: i64,
    #[prost(int64, tag = "2")]
    pub(super) unit: i64,
}

/// `Sample`: locations (leaf first), one value per sample type, labels.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Sample {
    #[prost(uint64, repeated, tag = "1")]
    pub(super) location_id: Vec<u64>,
    #[prost(int64, repeated, tag = "2")]
    pub(super) value: Vec<i64>,
    #[prost(message, repeated, tag = "3")]
    pub(super) label: Vec<Label>,
}

/// `Label`: a string (`str`) or numeric (`num`, `num_unit`) label.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Label {
    #[prost(int64, tag = "1")]
    pub(super) key: i64,
    #[prost(int64, tag = "2")]
    pub(super) str: i64,
    #[prost(int64, tag = "3")]
    pub(super) num: i64,
    #[prost(int64, tag = "4")]
    pub(super) num_unit: i64,
}

/// `Location`: an address and the lines at it, innermost first (the last is
/// the caller the others were inlined into).
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Location {
    #[prost(uint64, tag = "1")]
    pub(super) id: u64,
    #[prost(uint64, tag = "2")]
    pub(super) mapping_id: u64,
    #[prost(uint64, tag = "3")]
    pub(super) address: u64,
    #[prost(message, repeated, tag = "4")]
    pub(super) line: Vec<Line>,
    #[prost(bool, tag = "5")]
    pub(super) is_folded: bool,
}

/// `Line`: a function and a line (and column) in it.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Line {
    #[prost(uint64, tag = "1")]
    pub(super) function_id: u64,
    #[prost(int64, tag = "2")]
    pub(super) line: i64,
    #[prost(int64, tag = "3")]
    pub(super) column: i64,
}

/// `Function`: names and file as string indices.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Function {
    #[prost(uint64, tag = "1")]
    pub(super) id: u64,
    #[prost(int64, tag = "2")]
    pub(super) name: i64,
    #[prost(int64, tag = "3")]
    pub(super) system_name: i64,
    #[prost(int64, tag = "4")]
    pub(super) filename: i64,
    #[prost(int64, tag = "5")]
    pub(super) start_line: i64,
}

/// The name of a top-level `Profile` field and whether it is length-delimited
/// (else a varint); `None` for fields not in the schema.
pub(super) fn profile_field(tag: u64) -> Option<(&'static str, bool)> {
    const FIELDS: [(&str, bool); 14] = [
        ("sample_type", true),
        ("sample", true),
        ("mapping", true),
        ("location", true),
        ("function", true),
        ("string_table", true),
        ("drop_frames", false),
        ("keep_frames", false),
        ("time_nanos", false),
        ("duration_nanos", false),
        ("period_type", true),
        ("period", false),
        ("comment", false),
        ("default_sample_type", false),
    ];
    FIELDS
        .get(usize::try_from(tag.checked_sub(1)?).ok()?)
        .copied()
}

/// A protobuf field's payload as the wire gives it.
pub(super) enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The walker's complaint about a field that runs past its message's end.
pub(super) const PAST_END: &str = "field runs past the end of its message";

/// Walks the fields of one protobuf message.
pub(super) struct Fields<'a> {
    pub(super) buf: &'a [u8],
}

impl<'a> Fields<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for (i, &b) in self.buf.iter().take(10).enumerate() {
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.buf = &self.buf[i + 1..];
                return Some(v);
            }
        }
        None
    }

    fn skip(&mut self, n: usize) -> Result<(), &'static str> {
        self.buf = self.buf.get(n..).ok_or("truncated fixed-size field")?;
        Ok(())
    }

    /// The next field number and payload; `None` at the end.
    pub(super) fn next_field(&mut self) -> Result<Option<(u64, Wire<'a>)>, &'static str> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint().ok_or("truncated field key")?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint().ok_or("truncated varint")?),
            1 => self.skip(8).map(|()| Wire::Fixed)?,
            2 => {
                let len = self.varint().ok_or("truncated length")?;
                let len = usize::try_from(len).ok().filter(|&n| n <= self.buf.len());
                let (body, rest) = self.buf.split_at(len.ok_or(PAST_END)?);
                self.buf = rest;
                Wire::Bytes(body)
            }
            5 => self.skip(4).map(|()| Wire::Fixed)?,
            _ => return Err("unsupported wire type"),
        };
        match key >> 3 {
            0 => Err("field number 0"),
            tag => Ok(Some((tag, wire))),
        }
    }
}

/// The `id` (field 1) of a location or function message, 0 if absent.
pub(super) fn message_id(body: &[u8]) -> Result<u64, &'static str> {
    let mut f = Fields { buf: body };
    let mut id = 0;
    while let Some((tag, wire)) = f.next_field()? {
        if let (1, Wire::Varint(v)) = (tag, wire) {
            id = v;
        }
    }
    Ok(id)
}

/// Whether `head` starts like a `Profile` message and not like text: see
/// [`super::looks_like_raw_profile`].
pub(super) fn plausible_profile(head: &[u8]) -> bool {
    let binary = head
        .iter()
        .take(64)
        .any(|&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7f);
    if !binary {
        return false;
    }
    let mut fields = Fields { buf: head };
    for seen in 0..8 {
        let field = match fields.next_field() {
            // A field running past the end of a prefix is still plausible.
            Err(e) => return seen > 0 && e == PAST_END,
            Ok(None) => return seen > 0,
            Ok(Some(field)) => field,
        };
        let ok = match (profile_field(field.0), field.1) {
            (Some((_, true)), Wire::Bytes(b)) => !matches!(field.0, 1 | 11) || value_type(b),
            (Some((_, false)), Wire::Varint(_)) => true,
            (Some(_), Wire::Bytes(_)) => field.0 == 13,
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Whether `body` is a `ValueType`: only varint fields 1 and 2.
fn value_type(body: &[u8]) -> bool {
    let mut f = Fields { buf: body };
    loop {
        match f.next_field() {
            Ok(None) => return true,
            Ok(Some((1 | 2, Wire::Varint(_)))) => {}
            _ => return false,
        }
    }
}

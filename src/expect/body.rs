//! The response (or request) body as rules read it: the kept prefix, its Content-Encoding
//! undone (gzip and deflate, inflated with `flate2` to at most
//! [`MAX_DECODED_BODY`] bytes), and why it may not be the whole body.

use std::borrow::Cow;
use std::io::Read;

use crate::app::http::{BodyState, ResponseData};

/// Most bytes an encoded body is inflated to.
pub const MAX_DECODED_BODY: usize = 4 << 20;

/// A body ready to be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Body<'a> {
    /// The bytes (decoded).
    pub bytes: Cow<'a, [u8]>,
    /// Why `bytes` may be only a prefix of the body; `None` when it is all.
    pub partial: Option<String>,
}

/// The decoded body of a `message` (`"response"` or `"request"`), or why it
/// cannot be read at all.
pub(crate) fn decode<'a>(data: &'a ResponseData, message: &str) -> Result<Body<'a>, String> {
    if data.body_state == BodyState::NotKept {
        return Err(format!("the {message} body was not kept"));
    }
    let partial = data.body_state.why_partial_of(message);
    let codings: Vec<String> = data
        .header("content-encoding")
        .flat_map(|v| v.split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect();
    let coding = match codings.as_slice() {
        [] => {
            return Ok(Body {
                bytes: Cow::Borrowed(&data.body),
                partial,
            })
        }
        [one] => one.as_str(),
        _ => {
            return Err(format!(
                "the body has several content codings ({}), which netsleuth does not undo",
                codings.join(", ")
            ))
        }
    };
    let raw = data.body.as_slice();
    let (out, error) = match coding {
        "gzip" | "x-gzip" => inflate(flate2::read::MultiGzDecoder::new(raw)),
        "deflate" => {
            // "deflate" is meant to be zlib-wrapped; some servers send it raw.
            let (out, error) = inflate(flate2::read::ZlibDecoder::new(raw));
            if error.is_some() && out.is_empty() {
                inflate(flate2::read::DeflateDecoder::new(raw))
            } else {
                (out, error)
            }
        }
        other => {
            return Err(format!(
                "the body is {other}-encoded, which netsleuth does not decode"
            ))
        }
    };
    let too_big = out.len() > MAX_DECODED_BODY;
    let mut out = out;
    out.truncate(MAX_DECODED_BODY);
    let partial = match (partial, error, too_big) {
        (Some(p), _, _) => Some(p),
        (None, _, true) => Some(format!(
            "the decoded body is larger than the {} MiB netsleuth inflates",
            MAX_DECODED_BODY >> 20
        )),
        (None, Some(e), false) => return Err(format!("the {coding} body does not inflate: {e}")),
        (None, None, false) => None,
    };
    Ok(Body {
        bytes: Cow::Owned(out),
        partial,
    })
}

/// Inflates up to one byte past the limit; returns what came out and the error
/// that stopped it early, if any (a prefix of a stream ends in one).
fn inflate(reader: impl Read) -> (Vec<u8>, Option<String>) {
    let mut out = Vec::new();
    let mut limited = reader.take(MAX_DECODED_BODY as u64 + 1);
    let mut buf = [0u8; 16 * 1024];
    loop {
        match limited.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (out, Some(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn data(headers: &[(&str, &str)], body: Vec<u8>, state: BodyState) -> ResponseData {
        ResponseData {
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            headers_complete: true,
            body,
            body_state: state,
        }
    }

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn plain_gzip_deflate_and_unknown() {
        let d = data(&[], b"hi".to_vec(), BodyState::Complete);
        assert_eq!(decode(&d, "response").unwrap().bytes.as_ref(), b"hi");
        let d = data(
            &[("Content-Encoding", "GZIP")],
            gzip(b"{\"a\":1}"),
            BodyState::Complete,
        );
        let b = decode(&d, "response").unwrap();
        assert_eq!((b.bytes.as_ref(), b.partial), (&b"{\"a\":1}"[..], None));
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(b"zz").unwrap();
        let d = data(
            &[("content-encoding", "deflate")],
            z.finish().unwrap(),
            BodyState::Complete,
        );
        assert_eq!(decode(&d, "response").unwrap().bytes.as_ref(), b"zz");
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(b"rr").unwrap();
        let d = data(
            &[("content-encoding", "deflate")],
            raw.finish().unwrap(),
            BodyState::Complete,
        );
        assert_eq!(decode(&d, "response").unwrap().bytes.as_ref(), b"rr");
        let d = data(
            &[("content-encoding", "br")],
            vec![1, 2],
            BodyState::Complete,
        );
        assert!(decode(&d, "response").unwrap_err().contains("br-encoded"));
        let d = data(&[], vec![], BodyState::NotKept);
        assert!(decode(&d, "response").unwrap_err().contains("not kept"));
    }

    #[test]
    fn broken_and_partial_gzip() {
        let d = data(
            &[("content-encoding", "gzip")],
            b"not gzip".to_vec(),
            BodyState::Complete,
        );
        assert!(decode(&d, "response")
            .unwrap_err()
            .contains("does not inflate"));
        let whole = gzip(&vec![b'x'; 100_000]);
        let cut = whole[..whole.len() / 2].to_vec();
        let d = data(
            &[("content-encoding", "gzip")],
            cut,
            BodyState::TooLarge { limit: 10 },
        );
        let b = decode(&d, "response").unwrap();
        assert!(b.partial.unwrap().contains("larger"));
        // A bomb stops at the bound.
        let bomb = gzip(&vec![0u8; MAX_DECODED_BODY + 10]);
        let d = data(&[("content-encoding", "gzip")], bomb, BodyState::Complete);
        let b = decode(&d, "response").unwrap();
        assert_eq!(b.bytes.len(), MAX_DECODED_BODY);
        assert!(b.partial.unwrap().contains("MiB"));
    }
}

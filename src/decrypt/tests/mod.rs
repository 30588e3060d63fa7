//! Tests of the decryption core against published vectors (RFC 8448), real
//! sessions (rustls in memory, openssl over loopback) and our own sealing.

mod openssl_cbc;
mod rfc8448;
mod roundtrip;
mod rustls_live;
mod seal;
mod util;

//! TLS findings (in progress).

//! Zeek connection state and history (in progress).

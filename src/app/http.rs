//! HTTP (in progress).

//! HTTP findings (in progress).

//! DNS (in progress).

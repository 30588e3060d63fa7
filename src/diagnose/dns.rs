//! DNS findings (in progress).

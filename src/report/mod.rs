//! What the user reads: per-packet lines and JSON records, terminal-safe escaping.

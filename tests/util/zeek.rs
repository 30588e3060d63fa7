//! Zeek logs written by `analyze --zeek-logs`, read back by field name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::run;

/// One log row: field name → value as written (`-` when unset).
pub type Row = HashMap<String, String>;

/// Runs `analyze FILE --zeek-logs DIR/zeek` (exit 0 or 1) and returns the
/// logs' directory.
pub fn write_logs(file: &Path, dir: &Path) -> PathBuf {
    let logs = dir.join("zeek");
    let (code, _, err) = run(&[
        "analyze",
        file.to_str().expect("utf-8 path"),
        "--zeek-logs",
        logs.to_str().expect("utf-8 path"),
    ]);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    logs
}

/// The rows of `DIR/LOG.log`, by the names of its `#fields` line.
pub fn read_log(dir: &Path, log: &str) -> Vec<Row> {
    let path = dir.join(format!("{log}.log"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let fields: Vec<&str> = text
        .lines()
        .find_map(|l| l.strip_prefix("#fields\t"))
        .unwrap_or_else(|| panic!("{path:?} has no #fields line"))
        .split('\t')
        .collect();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            fields
                .iter()
                .map(|f| f.to_string())
                .zip(l.split('\t').map(str::to_string))
                .collect()
        })
        .collect()
}

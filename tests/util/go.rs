//! The Go lab programs under `tests/go/NAME/main.go` (stdlib only), built
//! once per source: each lands in `$TMP/netsleuth-go/<hash of its source>/`,
//! shared by the test processes (built to a temporary name, then renamed),
//! with one Go build cache beside them, so the standard library compiles once.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The Go toolchain, if installed.
pub fn toolchain() -> Option<PathBuf> {
    ["/usr/bin/go", "/usr/lib/go/bin/go"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// The built program `tests/go/NAME`; `None` when Go is missing or the build
/// failed (its output is on stderr).
pub fn program(name: &str) -> Option<PathBuf> {
    static BUILT: Mutex<Option<HashMap<String, Option<PathBuf>>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(done) = built.get(name) {
        return done.clone();
    }
    let done = build(name);
    built.insert(name.to_string(), done.clone());
    done
}

fn build(name: &str) -> Option<PathBuf> {
    let go = toolchain()?;
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/go")
        .join(name)
        .join("main.go");
    let mut hash = std::collections::hash_map::DefaultHasher::new();
    std::fs::read(&src).ok()?.hash(&mut hash);
    let root = std::env::temp_dir().join("netsleuth-go");
    let dir = root.join(format!("{name}-{:016x}", hash.finish()));
    std::fs::create_dir_all(&dir).ok()?;
    let out = dir.join(name);
    if out.exists() {
        return Some(out);
    }
    let tmp = dir.join(format!("{name}.{}", std::process::id()));
    let status = Command::new(go)
        .args(["build", "-o"])
        .arg(&tmp)
        .arg(&src)
        .env("HOME", &root)
        .env("GOCACHE", root.join("cache"))
        .env("GOPATH", root.join("gopath"))
        .env("GO111MODULE", "off")
        .env("GOFLAGS", "")
        .status()
        .ok()?;
    (status.success() && std::fs::rename(&tmp, &out).is_ok()).then_some(out)
}

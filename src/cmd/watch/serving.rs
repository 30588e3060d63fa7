//! `watch --metrics`: the server started when asked for, and the heartbeat
//! `/healthz` reads.

use std::io::Write;
use std::sync::Arc;

use super::WatchConfig;
use crate::cmd::CommandError;
use crate::metrics::Metrics;

/// The `--metrics` server and what it serves.
pub(super) struct Serving {
    pub(super) metrics: Arc<Metrics>,
    #[cfg(feature = "metrics")]
    health: Arc<crate::metrics::server::Health>,
    #[cfg(feature = "metrics")]
    _server: crate::metrics::server::MetricsServer,
}

impl Serving {
    /// The capture loop is alive (for `/healthz`).
    pub(super) fn beat(&self) {
        #[cfg(feature = "metrics")]
        self.health.beat();
    }
}

/// Starts the `--metrics` server when asked for.
#[cfg(feature = "metrics")]
pub(super) fn serve_metrics(
    config: &WatchConfig,
    status: &mut dyn Write,
) -> Result<Option<Serving>, CommandError> {
    use crate::metrics::server::{Health, MetricsServer};
    let Some(addr) = config.metrics else {
        return Ok(None);
    };
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::default());
    health.beat();
    let server = MetricsServer::start(addr, Arc::clone(&metrics), Arc::clone(&health))
        .map_err(|e| CommandError::Usage(e.to_string()))?;
    writeln!(
        status,
        "netsleuth: metrics on http://{0}/metrics (health: http://{0}/healthz)",
        server.local_addr()
    )?;
    Ok(Some(Serving {
        metrics,
        health,
        _server: server,
    }))
}

/// Without the `metrics` feature there is no server to start.
#[cfg(not(feature = "metrics"))]
pub(super) fn serve_metrics(
    config: &WatchConfig,
    _status: &mut dyn Write,
) -> Result<Option<Serving>, CommandError> {
    match config.metrics {
        None => Ok(None),
        Some(_) => Err(CommandError::Usage(
            "--metrics: this netsleuth was built without the metrics feature; rebuild with `cargo build --release --features metrics`".into(),
        )),
    }
}

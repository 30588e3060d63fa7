//! The `/metrics` and `/healthz` endpoints of `watch --metrics`: hyper's
//! HTTP/1 server on a current-thread tokio runtime in a thread of its own,
//! so a scrape never holds up the analysis and the analysis never holds up
//! a scrape (the families are shared atomics).
//!
//! Bounded like everything facing a network: at most [`MAX_CONNECTIONS`]
//! scrapes at once (more are closed at once) and [`CONNECTION_LIMIT`] per
//! connection.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use super::Metrics;

/// Scrapes served at once.
pub const MAX_CONNECTIONS: usize = 16;

/// Longest life of one connection (a scraper keeps it alive between scrapes
/// and reconnects after).
pub const CONNECTION_LIMIT: Duration = Duration::from_secs(60);

/// `/healthz` fails when the capture loop has not moved for this long (it
/// moves at every packet and at least every second on a quiet wire).
pub const STALL_LIMIT: Duration = Duration::from_secs(10);

/// The OpenMetrics text format, which Prometheus asks for first.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The address is taken or not ours.
    #[error(
        "cannot listen on {addr} for --metrics: {source}; choose a free address, e.g. --metrics 127.0.0.1:9464"
    )]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// No thread or runtime for it.
    #[error("cannot start the metrics server: {0}")]
    Start(std::io::Error),
}

/// The capture loop's heartbeat, for `/healthz`.
#[derive(Debug)]
pub struct Health {
    started: Instant,
    /// Milliseconds after `started` of the latest beat.
    last_beat_ms: AtomicU64,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            started: Instant::now(),
            last_beat_ms: AtomicU64::new(0),
        }
    }
}

impl Health {
    /// The capture loop is alive now.
    pub fn beat(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_beat_ms.store(ms, Ordering::Relaxed);
    }

    /// Time since the latest beat.
    pub fn since_beat(&self) -> Duration {
        let last = Duration::from_millis(self.last_beat_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

/// A running server; stopped when dropped.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MetricsServer {
    /// Listens on `addr` (port 0: any free port) and serves `metrics`.
    /// Binding happens here, so a taken port is an error now, not later.
    pub fn start(
        addr: SocketAddr,
        metrics: Arc<Metrics>,
        health: Arc<Health>,
    ) -> Result<MetricsServer, MetricsError> {
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|source| MetricsError::Bind { addr, source })?;
        let bound = listener.local_addr().map_err(MetricsError::Start)?;
        listener
            .set_nonblocking(true)
            .map_err(MetricsError::Start)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(MetricsError::Start)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("netsleuth-metrics".into())
            .spawn(move || runtime.block_on(serve(listener, metrics, health, rx)))
            .map_err(MetricsError::Start)?;
        Ok(MetricsServer {
            addr: bound,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of descriptors and the like: wait rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            continue; // busy: the connection is closed at once
        };
        let (metrics, health) = (Arc::clone(&metrics), Arc::clone(&health));
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let response = respond(&req, &metrics, &health);
                async move { Ok::<_, Infallible>(response) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIMIT, conn).await;
            drop(slot);
        });
    }
}

/// The answer to one request.
fn respond(req: &Request<Incoming>, metrics: &Metrics, health: &Health) -> Response<Full<Bytes>> {
    let get = matches!(*req.method(), Method::GET | Method::HEAD);
    match req.uri().path() {
        "/metrics" if get => reply(StatusCode::OK, OPENMETRICS, metrics.encode()),
        "/healthz" if get => {
            let quiet = health.since_beat();
            if quiet <= STALL_LIMIT {
                reply(StatusCode::OK, "text/plain", "ok\n".into())
            } else {
                reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    format!(
                        "capture stalled: the capture loop has not moved for {} s\n",
                        quiet.as_secs()
                    ),
                )
            }
        }
        "/" if get => reply(
            StatusCode::OK,
            "text/plain",
            "netsleuth watch: /metrics (Prometheus), /healthz\n".into(),
        ),
        "/metrics" | "/healthz" | "/" => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "only GET\n".into(),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: try /metrics or /healthz\n".into(),
        ),
    }
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

//! The HTTP side of `proteo serve`: the accept loop (a cap on open connections, header-read and idle timeouts,
//! a bounded graceful shutdown), and the guards every request passes (the `Host` header against the server's own
//! names, a time limit per request, security headers on every response).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// Most connections open at once; further clients wait in the kernel's accept queue. Each connection costs a task
/// and its buffers (~tens of KB), so 1 024 is a few tens of MB at most.
pub const MAX_CONNECTIONS: usize = 1024;
/// A request's headers must arrive within this (slow-header clients, slowloris).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with no byte read or written for this long is closed (idle keep-alive, stalled clients).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Every request but an upload must be answered within this, body included (the API's bodies are ≤ 3 MiB).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// After SIGTERM/SIGINT, open connections get this long to finish their request before the server stops.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// The limits of the accept loop and of each request (the constants above in production; tests shorten them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    pub max_connections: usize,
    pub header_read: Duration,
    pub idle: Duration,
    pub request: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: MAX_CONNECTIONS,
            header_read: HEADER_READ_TIMEOUT,
            idle: IDLE_TIMEOUT,
            request: REQUEST_TIMEOUT,
        }
    }
}

/// The names the server answers to (the `Host` header's value, lower case, with the port): DNS rebinding makes a
/// hostile page's requests carry the attacker's host name, which is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHosts(Vec<String>);

impl AllowedHosts {
    /// The authority of `public_url`, and for a loopback or unspecified bind address `localhost`, `127.0.0.1`
    /// and `[::1]` on the bound port.
    pub fn new(public_url: &str, addr: SocketAddr) -> AllowedHosts {
        let mut names = Vec::new();
        let authority = public_url.split("://").nth(1).unwrap_or(public_url).split('/').next().unwrap_or_default();
        if !authority.is_empty() {
            names.push(authority.to_ascii_lowercase());
        }
        let port = addr.port();
        if addr.ip().is_loopback() || addr.ip().is_unspecified() {
            for host in ["localhost", "127.0.0.1", "[::1]"] {
                names.push(format!("{host}:{port}"));
            }
        }
        if !addr.ip().is_unspecified() {
            names.push(match addr {
                SocketAddr::V4(a) => format!("{}:{port}", a.ip()),
                SocketAddr::V6(a) => format!("[{}]:{port}", a.ip()),
            });
        }
        names.sort();
        names.dedup();
        AllowedHosts(names)
    }

    pub fn allows(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.0.iter().any(|n| *n == host || n.strip_suffix(":80").is_some_and(|bare| bare == host))
    }

    pub fn names(&self) -> &[String] {
        &self.0
    }
}

fn refused(status: StatusCode, message: String) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

async fn check_host(State(allowed): State<Arc<AllowedHosts>>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string);
    match host {
        Some(h) if allowed.allows(&h) => next.run(request).await,
        Some(h) => refused(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "proteo serve answers only for its own names ({}), not `{}`; open one of those, or start it with \
                 --public-url naming the host you use",
                allowed.names().join(", "),
                proteo_jobs::limits::bounded(&h, 100)
            ),
        ),
        None => refused(StatusCode::BAD_REQUEST, "the request has no Host header".into()),
    }
}

/// Requests other than uploads are answered within [`HttpLimits::request`] (uploads have their own rate rule).
async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    if request.method() == axum::http::Method::PUT && request.uri().path().starts_with("/files/") {
        return next.run(request).await;
    }
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => refused(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request was not completed within {} s", limit.as_secs_f64()),
        ),
    }
}

/// The page's policy: its own scripts, styles and API only; the report (an iframe of the page) is the only frame.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
    connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; \
    object-src 'none'";
/// The report's policy: its inline script and styles run, nothing is fetched (an injected script could not reach
/// the API), and only the page may frame it.
pub const REPORT_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
    img-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'";

async fn security_headers(request: Request, next: Next) -> Response {
    let is_file = request.uri().path().starts_with("/files/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    let html = headers.get(header::CONTENT_TYPE).is_some_and(|c| c.as_bytes().starts_with(b"text/html"));
    if is_file && html {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(REPORT_CSP));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    } else {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

/// `router` behind the guards: security headers on every response, the per-request time limit and, when given,
/// the `Host` check.
pub fn guarded(router: Router, hosts: Option<AllowedHosts>, limits: HttpLimits) -> Router {
    let router = router.layer(axum::middleware::from_fn_with_state(limits.request, time_limit));
    let router = match hosts {
        Some(h) => router.layer(axum::middleware::from_fn_with_state(Arc::new(h), check_host)),
        None => router,
    };
    router.layer(axum::middleware::from_fn(security_headers))
}

/// A socket that records when a byte last moved, so an idle connection can be closed.
struct Watched<T> {
    inner: T,
    last: Arc<AtomicU64>,
    epoch: Instant,
}

impl<T> Watched<T> {
    fn touch(&self) {
        self.last.store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Serve `app` on `listener` until `shutdown` resolves; then stop accepting, ask every connection to finish its
/// request, and return after at most [`SHUTDOWN_GRACE`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let max_connections = limits.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let epoch = Instant::now();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = Arc::clone(&permits).acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let last = Arc::new(AtomicU64::new(epoch.elapsed().as_millis() as u64));
        let io = TokioIo::new(Watched { inner: stream, last: Arc::clone(&last), epoch });
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read)
                .keep_alive(true)
                .serve_connection(io, service);
            tokio::pin!(conn);
            let idle = async {
                loop {
                    tokio::time::sleep(limits.idle / 4).await;
                    let quiet = (epoch.elapsed().as_millis() as u64).saturating_sub(last.load(Ordering::Relaxed));
                    if quiet >= limits.idle.as_millis() as u64 {
                        return;
                    }
                }
            };
            tokio::pin!(idle);
            let stopping = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
                _ = &mut idle => tracing::debug!(%peer, "idle connection closed"),
                _ = stopping => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn.as_mut()).await;
                }
            }
        });
    }
    let _ = stop_tx.send(true);
    drop(listener);
    // Connections finishing their last request hold permits; wait for them, but never past the grace period.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, permits.acquire_many(max_connections as u32)).await;
}

/// An empty 413/408 body with a sentence, for the upload handler.
pub fn sentence(status: StatusCode, message: String) -> Response<Body> {
    refused(status, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_hosts_are_the_public_url_and_loopback_names_on_the_port() {
        let h = AllowedHosts::new("http://127.0.0.1:8080", "127.0.0.1:8080".parse().unwrap());
        for ok in ["127.0.0.1:8080", "localhost:8080", "LOCALHOST:8080", "[::1]:8080"] {
            assert!(h.allows(ok), "{ok}");
        }
        for bad in ["evil.example:8080", "127.0.0.1:9999", "localhost", "127.0.0.1.evil.example:8080", ""] {
            assert!(!h.allows(bad), "{bad}");
        }
        let public = AllowedHosts::new("https://lab.example.org/", "0.0.0.0:8080".parse().unwrap());
        assert!(public.allows("lab.example.org"));
        assert!(public.allows("localhost:8080"));
        assert!(!public.allows("other.example.org"));
        let plain = AllowedHosts::new("http://box:80", "10.0.0.2:80".parse().unwrap());
        assert!(plain.allows("box") && plain.allows("box:80") && plain.allows("10.0.0.2:80"));
    }
}

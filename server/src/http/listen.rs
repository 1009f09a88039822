//! The socket side of the server: accepting connections within limits and serving HTTP/1.1 on
//! each with hyper, with a timer, so that a client that does not send a whole request head in
//! time (a slowloris, or an idle keep-alive connection) is closed. WebSocket upgrades are
//! served on the same connections. With TLS, each connection's handshake must finish within
//! the same header timeout, on the connection's own task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time to send a whole request head (and the most a connection may sit idle).
    pub header_timeout: Duration,
    /// Connections open at once; more wait in the kernel's accept queue.
    pub max_connections: usize,
}

/// Plain HTTP, or HTTPS with this configuration.
pub type Tls = Option<Arc<rustls::ServerConfig>>;

/// Raises the open-files limit to the hard limit, so that the connection limit (not the file
/// descriptor table) is what bounds connections. Returns the limit in force.
pub fn raise_open_files_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let cur = getrlimit(Resource::Nofile);
    if let (Some(soft), Some(hard)) = (cur.current, cur.maximum) {
        if soft < hard && setrlimit(Resource::Nofile, Rlimit { current: Some(hard), maximum: Some(hard) }).is_ok() {
            return hard;
        }
        return soft;
    }
    cur.current.unwrap_or(u64::MAX)
}

/// Serves `router` on `listener` until `shutdown`; then lets open requests finish (at most
/// `grace`).
pub async fn serve(listener: TcpListener, tls: Tls, router: Router, limits: Limits, mut shutdown: watch::Receiver<bool>, grace: Duration) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    let mut warned_full = false;
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if !warned_full {
                    tracing::warn!(max = limits.max_connections, "connection limit reached; new connections wait");
                    warned_full = true;
                }
                tokio::select! {
                    p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                    _ = super::stopped(&mut shutdown) => break,
                }
            }
        };
        let (tcp, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors, say: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = super::stopped(&mut shutdown) => break,
        };
        warned_full = false;
        super::no_delay(&tcp);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(remote));
            router.clone().oneshot(req.map(axum::body::Body::new))
        });
        let builder = builder.clone();
        let acceptor = acceptor.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let r = match acceptor {
                None => serve_connection(&builder, TokioIo::new(tcp), service, &mut stop).await,
                Some(acceptor) => match tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => serve_connection(&builder, TokioIo::new(tls), service, &mut stop).await,
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, %remote, "TLS handshake failed");
                        Ok(())
                    }
                    Err(_) => {
                        tracing::debug!(%remote, "TLS handshake timed out");
                        Ok(())
                    }
                },
            };
            if let Err(e) = r {
                tracing::debug!(error = %e, %remote, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    // Every connection holds a permit until it is done.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, permits.acquire_many(all)).await.is_err() {
        tracing::warn!("connections did not close within {grace:?}");
    }
}

/// Serves HTTP/1.1 on one connection until the client closes it or the server stops (then the
/// request in progress finishes first).
async fn serve_connection<I, S>(
    builder: &hyper::server::conn::http1::Builder,
    io: I,
    service: S,
    stop: &mut watch::Receiver<bool>,
) -> hyper::Result<()>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<hyper::body::Incoming> + Send + 'static,
    S::Future: Send + 'static,
    S::ResBody: Send + 'static,
    <S::ResBody as hyper::body::Body>::Data: Send,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let conn = builder.serve_connection(io, service).with_upgrades();
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => r,
        _ = super::stopped(stop) => {
            // Finish the request in progress, then close.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    }
}

/// The peer address of a request served by [`serve`] (absent in in-process tests).
pub fn peer(parts: &axum::http::request::Parts) -> Option<SocketAddr> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}

use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::middleware;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::{App, Background};
use crate::config::Plan;
use crate::error::ServerError;
use crate::routes;
use crate::telemetry::{RequestTelemetry, request_span};

/// A started server: storage connected, checks run once, first cascade done, background
/// refresher and cascade running; not yet serving HTTP.
#[derive(Debug)]
pub struct Server {
    app: Arc<App>,
    background: Background,
    /// `server.shutdown_grace`, the one setting serving still needs.
    shutdown_grace: Duration,
}

impl Server {
    /// Starts what `plan` describes: connects storage, registers the checks and the
    /// fallback rules, runs the checks and one cascade, and starts the background
    /// refresher and cascade loop.
    ///
    /// Secrets left unset are generated here and never shown: call
    /// [`Plan::generate_missing_secrets`] beforehand to know them.
    ///
    /// # Errors
    ///
    /// [`ServerError::Startup`] when a part cannot be started (a thread, a socket, a
    /// rule storage refuses for good). The configuration was checked by
    /// [`Config::validate`](crate::Config::validate); an unreachable storage is not an
    /// error: the server starts and reports storage as degraded.
    pub async fn start(mut plan: Plan) -> Result<Self, ServerError> {
        plan.generate_missing_secrets()?;
        let shutdown_grace = plan.server.shutdown_grace;
        let (app, background) = App::start(plan).await?;
        Ok(Self {
            app,
            background,
            shutdown_grace,
        })
    }

    /// Serves HTTP on `listener` until `shutdown` completes, then shuts down gracefully:
    /// stops accepting, lets in-flight requests finish (within `server.shutdown_grace`),
    /// stops the background tasks, persists the transitions still waiting for storage and
    /// closes storage.
    ///
    /// # Errors
    ///
    /// [`ServerError::Serve`] if the listener fails.
    pub async fn serve<F>(self, listener: TcpListener, shutdown: F) -> Result<(), ServerError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let Self {
            app,
            background,
            shutdown_grace: grace,
        } = self;
        // Request metrics go to Prometheus only: per-request datagrams or log lines in the
        // other sinks would cost more than the request.
        let telemetry = Arc::new(RequestTelemetry {
            sink: Arc::new(app.prometheus.clone()),
            access_log: app.access_log,
        });
        let router = routes::router(app.clone())
            .layer(middleware::from_fn_with_state(telemetry, request_span));
        if let Ok(address) = listener.local_addr() {
            tracing::info!(%address, storage = app.storage.backend(), "serving");
        }

        let (started_tx, mut started_rx) = watch::channel(false);
        let signalled = app.clone();
        let signal = async move {
            shutdown.await;
            // Readiness fails from now on; in-flight requests still finish.
            signalled.shutting_down.store(true, Ordering::Relaxed);
            tracing::info!("shutting down: no new connections, finishing in-flight requests");
            let _sent = started_tx.send(true);
        };
        // Small JSON answers on keep-alive connections: never wait for Nagle.
        let listener = listener.tap_io(|stream| {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY");
            }
        });
        let server = axum::serve(listener, router)
            .with_graceful_shutdown(signal)
            .into_future();
        let deadline = async move {
            if started_rx.wait_for(|started| *started).await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(grace).await;
        };
        let outcome = tokio::select! {
            result = server => result.map_err(|source| ServerError::Serve { source }),
            () = deadline => {
                tracing::warn!(
                    grace = %humantime::format_duration(grace),
                    "in-flight requests did not finish within the shutdown grace; abandoning them"
                );
                Ok(())
            }
        };
        app.stop(background, grace).await;
        tracing::info!("stopped");
        outcome
    }
}

/// Starts a server from `plan` and serves on `listener` until `shutdown` completes:
/// [`Server::start`] then [`Server::serve`].
///
/// # Errors
///
/// As [`Server::start`] and [`Server::serve`].
pub async fn serve<F>(plan: Plan, listener: TcpListener, shutdown: F) -> Result<(), ServerError>
where
    F: Future<Output = ()> + Send + 'static,
{
    Server::start(plan).await?.serve(listener, shutdown).await
}

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use web::ServeOptions;

use crate::app::{App, Background};
use crate::config::Plan;
use crate::error::ServerError;

/// A started server: storage connected, checks run once, first cascade done, background
/// refresher and cascade running; not yet serving HTTP.
#[derive(Debug)]
pub struct Server {
    app: Arc<App>,
    background: Background,
    /// `[server]`'s timeouts, connection cap and shutdown grace: what serving still needs.
    options: ServeOptions,
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
        let options = plan.server.serve.clone();
        let (app, background) = App::start(plan).await?;
        Ok(Self {
            app,
            background,
            options,
        })
    }

    /// Serves HTTP on `listener` with the `web` crate's hardened loop until `shutdown`
    /// completes, then shuts down gracefully: readiness fails, the listener closes, idle
    /// connections close, in-flight requests finish within `server.shutdown_grace` and
    /// what is still open then is closed; then the background tasks stop, the
    /// transitions still waiting for storage are written (within the grace again) and
    /// storage is closed.
    ///
    /// # Errors
    ///
    /// None today: accept errors are logged and retried. The `Result` leaves room for
    /// failures a future listener may have.
    pub async fn serve<F>(self, listener: TcpListener, shutdown: F) -> Result<(), ServerError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let Self {
            app,
            background,
            options,
        } = self;
        let router = web::router(&app.web).fallback_service(web::not_found(&app.web));
        if let Ok(address) = listener.local_addr() {
            tracing::info!(%address, storage = app.web.storage().backend(), "serving");
        }
        let state = app.web.clone();
        let signal = async move {
            shutdown.await;
            // Readiness fails from now on; in-flight requests still finish.
            state.begin_shutdown();
        };
        let grace = options.shutdown_grace;
        web::serve(listener, router, options, signal).await;
        app.stop(background, grace).await;
        tracing::info!("stopped");
        Ok(())
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

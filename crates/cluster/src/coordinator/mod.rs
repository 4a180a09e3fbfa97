use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use fallback::{FallbackManager, FallbackMode};
use health_model::HealthState;
use health_sinks::MetricsSink;
use storage_redis::RedisConfig;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::default_instance_id;
use crate::metrics::Metrics;
use crate::record::{Decision, MemberHealth, Stamp};
use crate::status::{ClusterStatus, Coordination, Delivery};
use crate::util::random_u64;
use crate::{ClusterConfig, ClusterStore, Error, KeySpace, RedisStore, Result};

mod operator;
mod run;
mod state;
mod status;

use state::{LocalInput, Rng, State};

type Observer = Arc<dyn Fn(&Decision) + Send + Sync>;

/// One replica's part in the cluster: it heartbeats and votes, takes the leader's lease
/// when it is free, decides as leader, and applies the cluster's decisions to its
/// [`FallbackManager`]; when the store is unreachable, it keeps its mode and lets the
/// manager cascade on its own.
///
/// - [`spawn`](Self::spawn) starts the background loop (a heartbeat every
///   [`heartbeat_interval`](ClusterConfig::heartbeat_interval), at once on a hint);
///   [`Running::stop`] stops it cleanly, stepping down if it leads.
/// - [`cascade`](Self::cascade) replaces `manager.cascade(&state)` in the service's
///   cascade loop: it votes the mode the manager's policy calls for and returns the
///   cluster's mode, or cascades locally when there is no cluster decision to follow.
/// - [`override_mode`](Self::override_mode), [`hold`](Self::hold) and
///   [`release`](Self::release) are the operator's calls (`POST /fallback/mode`): they
///   become cluster decisions, and a hold survives restarts of every instance.
/// - [`status`](Self::status) is `GET /cluster/status`.
///
/// Cheap to clone: clones share the instance.
///
/// See the [crate documentation](crate) for the protocol and an example.
#[derive(Clone)]
pub struct Coordinator {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    id: String,
    config: ClusterConfig,
    store: Arc<dyn ClusterStore>,
    manager: Arc<FallbackManager>,
    metrics: Metrics,
    observers: Vec<Observer>,
    state: parking_lot::Mutex<State>,
    /// Wakes the loop for an immediate heartbeat (a new vote, an operator's request, a
    /// lease just taken).
    wake: Notify,
    /// The last applied decision, for operator calls waiting for theirs.
    applied: watch::Sender<Option<Decision>>,
    stop: watch::Sender<bool>,
    rng: parking_lot::Mutex<Rng>,
}

impl Coordinator {
    /// A builder for the coordinator of `manager`.
    pub fn builder(manager: Arc<FallbackManager>) -> CoordinatorBuilder {
        CoordinatorBuilder {
            manager,
            config: ClusterConfig::default(),
            store: None,
            sink: None,
            observers: Vec::new(),
            seed: None,
        }
    }

    /// This instance's id.
    #[must_use]
    pub fn instance_id(&self) -> &str {
        &self.inner.id
    }

    /// The settings in use.
    #[must_use]
    pub fn config(&self) -> &ClusterConfig {
        &self.inner.config
    }

    /// The manager whose mode it coordinates.
    #[must_use]
    pub fn manager(&self) -> &Arc<FallbackManager> {
        &self.inner.manager
    }

    /// Starts the background loop on the current tokio runtime.
    #[must_use = "dropping the handle aborts the loop; call `stop` to end it cleanly"]
    pub fn spawn(&self) -> Running {
        Running {
            coordinator: self.clone(),
            handle: Some(tokio::spawn(self.clone().run())),
        }
    }

    /// Runs the background loop until [`shutdown`](Self::shutdown) (or
    /// [`Running::stop`]): heartbeats, votes, elections, decisions, applying them.
    /// Stepping down (if it leads) is the last thing it does.
    pub async fn run(self) {
        run::run(Arc::clone(&self.inner)).await;
    }

    /// Asks the loop to stop; it steps down if it leads. Returns at once; await
    /// [`Running::stop`] to wait for it.
    pub fn shutdown(&self) {
        self.inner.stop.send_replace(true);
        self.inner.wake.notify_one();
    }

    /// The cascade step of a clustered service: call it where a single instance calls
    /// `manager.cascade(&state)`.
    ///
    /// It computes the mode the manager's policy calls for (without applying it), which
    /// becomes this instance's vote, and returns the mode to run in:
    /// - while coordinated, the cluster's decision (applied to the manager by the
    ///   background loop as it arrives);
    /// - before the first decision, while the store is unreachable, or once stopped,
    ///   `manager.cascade(state)`: the manager decides alone (a hold of the last cluster
    ///   decision still pins it until it expires).
    pub async fn cascade(&self, state: &HealthState) -> FallbackMode {
        let inner = &self.inner;
        let target = inner.manager.policy().target(state);
        let (changed, follow) = {
            let mut shared = inner.state.lock();
            let changed = shared.local.as_ref().map(|local| local.target) != Some(target);
            if changed || shared.local.is_none() {
                shared.local = Some(LocalInput {
                    target,
                    health: MemberHealth::of(state),
                });
            }
            (changed, shared.follows_cluster())
        };
        if changed {
            // The vote counts at the next heartbeat: make it now.
            inner.wake.notify_one();
        }
        if follow {
            inner.manager.get_current_mode()
        } else {
            inner.manager.cascade(state).await
        }
    }

    /// The operator's one-shot override: asks the cluster to switch to `mode` now; the
    /// next decision may change it again (as `manager.set_mode` does locally). Use
    /// [`hold`](Self::hold) to keep it.
    ///
    /// Waits up to two heartbeats for the decision to come back.
    ///
    /// # Errors
    ///
    /// [`Error::Stopped`] once stopped; [`Error::Fallback`] if the manager refuses a
    /// local change while the store is unreachable.
    pub async fn override_mode(&self, mode: FallbackMode) -> Result<Delivery> {
        operator::request(&self.inner, mode, false, None).await
    }

    /// The operator's hold: `mode` for every instance, for `duration` (`None`: until
    /// [`release`](Self::release)d), whatever the votes. It is kept in the store with its
    /// expiry and in the decision record, so it survives restarts of every instance.
    ///
    /// Waits up to two heartbeats for the decision to come back.
    ///
    /// # Errors
    ///
    /// [`Error::Stopped`] once stopped; [`Error::Fallback`] if the manager refuses a
    /// local change while the store is unreachable.
    pub async fn hold(&self, mode: FallbackMode, duration: Option<Duration>) -> Result<Delivery> {
        operator::request(&self.inner, mode, true, duration).await
    }

    /// Ends the operator's hold for every instance: the mode stays until the vote decides
    /// again.
    ///
    /// # Errors
    ///
    /// [`Error::Stopped`] once stopped.
    pub async fn release(&self) -> Result<Delivery> {
        operator::release(&self.inner).await
    }

    /// This instance's view of the cluster: members (listed again when the cached list
    /// is older than a heartbeat), leader, epoch, votes, the last decision and why,
    /// coordination and its reason.
    pub async fn status(&self) -> ClusterStatus {
        status::status(&self.inner).await
    }

    /// The last decision this instance applied.
    #[must_use]
    pub fn decision(&self) -> Option<Decision> {
        self.inner.state.lock().applied.clone()
    }

    /// Whether this instance follows the cluster now, without a round trip (for
    /// readiness probes and tests).
    #[must_use]
    pub fn coordination(&self) -> Coordination {
        self.inner.state.lock().coordination
    }

    /// Whether this instance holds a valid lease now.
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.inner.state.lock().leading(Instant::now()).is_some()
    }

    /// Waits until this instance has applied a decision at or after `stamp`; the decision.
    /// For tests and tools; returns `None` if the coordinator is dropped meanwhile.
    pub async fn wait_for_decision(&self, stamp: Stamp) -> Option<Decision> {
        let mut applied = self.inner.applied.subscribe();
        applied
            .wait_for(|decision| decision.as_ref().is_some_and(|d| d.stamp() >= stamp))
            .await
            .ok()
            .and_then(|decision| decision.clone())
    }
}

impl fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state.lock();
        f.debug_struct("Coordinator")
            .field("instance_id", &self.inner.id)
            .field("coordination", &state.coordination)
            .field("leading", &state.leading(Instant::now()))
            .field("applied", &state.applied.as_ref().map(Decision::stamp))
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Coordinator`]: [`Coordinator::builder`], then a store
/// ([`redis`](Self::redis) or [`store`](Self::store)), then [`build`](Self::build).
#[must_use]
pub struct CoordinatorBuilder {
    manager: Arc<FallbackManager>,
    config: ClusterConfig,
    store: Option<StoreChoice>,
    sink: Option<Arc<dyn MetricsSink>>,
    observers: Vec<Observer>,
    seed: Option<u64>,
}

enum StoreChoice {
    Redis(Box<RedisConfig>),
    Store(Arc<dyn ClusterStore>),
}

impl CoordinatorBuilder {
    /// The settings (default [`ClusterConfig::default`]).
    pub fn config(mut self, config: ClusterConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets [`ClusterConfig::instance_id`].
    pub fn instance_id(mut self, id: impl Into<String>) -> Self {
        self.config.instance_id = Some(id.into());
        self
    }

    /// The store: Redis, reached with `config` (the `storage-redis` settings), under
    /// [`ClusterConfig::prefix`].
    pub fn redis(mut self, config: RedisConfig) -> Self {
        self.store = Some(StoreChoice::Redis(Box::new(config)));
        self
    }

    /// The store: any [`ClusterStore`] (a [`MemoryStore`](crate::MemoryStore) for several
    /// coordinators in one process). [`ClusterConfig::prefix`] does not apply.
    pub fn store(mut self, store: Arc<dyn ClusterStore>) -> Self {
        self.store = Some(StoreChoice::Store(store));
        self
    }

    /// Emits the cluster's metrics (see [`METRIC_DESCRIPTIONS`](crate::METRIC_DESCRIPTIONS))
    /// to `sink`.
    pub fn metrics_sink(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Calls `observer` with every decision this instance applies, in order, right
    /// after the manager took it. It runs on the coordinator's loop: keep it quick.
    pub fn on_decision(mut self, observer: impl Fn(&Decision) + Send + Sync + 'static) -> Self {
        self.observers.push(Arc::new(observer));
        self
    }

    /// Seeds the coordinator's randomness (election jitter, request ids), for
    /// reproducible simulations; by default it is seeded from the operating system.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Validates the settings and builds the coordinator (not yet running: see
    /// [`Coordinator::spawn`]).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an invalid setting or no store;
    /// [`Error::RedisConfig`] for an invalid Redis configuration.
    pub fn build(self) -> Result<Coordinator> {
        let config = self.config;
        config.validate()?;
        let store: Arc<dyn ClusterStore> = match self.store {
            Some(StoreChoice::Store(store)) => store,
            Some(StoreChoice::Redis(redis)) => {
                Arc::new(RedisStore::new(*redis, KeySpace::new(&config.prefix)?)?)
            }
            None => {
                return Err(Error::config(
                    "store",
                    "is missing: call `redis` or `store` on the builder",
                ));
            }
        };
        let id = config
            .instance_id
            .clone()
            .unwrap_or_else(default_instance_id);
        let seed = self.seed.unwrap_or_else(random_u64);
        Ok(Coordinator {
            inner: Arc::new(Inner {
                state: parking_lot::Mutex::new(State::new(Instant::now())),
                id,
                config,
                store,
                manager: self.manager,
                metrics: Metrics::new(self.sink),
                observers: self.observers,
                wake: Notify::new(),
                applied: watch::Sender::new(None),
                stop: watch::Sender::new(false),
                rng: parking_lot::Mutex::new(Rng::new(seed)),
            }),
        })
    }
}

impl fmt::Debug for CoordinatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoordinatorBuilder")
            .field("config", &self.config)
            .field("observers", &self.observers.len())
            .finish_non_exhaustive()
    }
}

/// The running loop of a [`Coordinator`]. Dropping it aborts the loop without stepping
/// down (as a crash would: the lease then expires); [`stop`](Self::stop) ends it cleanly.
#[derive(Debug)]
pub struct Running {
    coordinator: Coordinator,
    handle: Option<JoinHandle<()>>,
}

impl Running {
    /// The coordinator it runs.
    #[must_use]
    pub const fn coordinator(&self) -> &Coordinator {
        &self.coordinator
    }

    /// Stops the loop and waits for it: it steps down if it leads (so another instance
    /// takes over at once, not after the lease runs out).
    pub async fn stop(mut self) {
        self.coordinator.shutdown();
        if let Some(handle) = self.handle.take() {
            // A panic in the loop has already been reported by the runtime.
            let _joined = handle.await;
        }
    }

    /// Aborts the loop at once, without stepping down: a crash, for tests. The
    /// coordinator then says it is stopped, and its cascades are the manager's.
    pub fn abort(mut self) {
        self.abort_loop();
    }

    fn abort_loop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.abort();
            let mut state = self.coordinator.inner.state.lock();
            state.lose_lease();
            state.set_coordination(
                Coordination::Stopped,
                Some("the coordinator's loop was aborted".to_owned()),
                Instant::now(),
            );
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.abort_loop();
    }
}

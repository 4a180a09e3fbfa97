//! Registered fallbacks: [`Registry`] parses, stores and keeps them (active, or pending
//! while storage is down), and runs the actions whose conditions hold.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use condition::{Condition, ConditionParser, Context};
use health_model::Timestamp;
use parking_lot::{Mutex, RwLock};
use serde_json::{Map, Value};
use storage::StorageError;

use super::FallbackManager;
use super::store::{Store, refused_for_good};
use crate::error::json_kind;
use crate::isolate::{self, BoxFuture};
use crate::rules::{
    FallbackDefinition, FallbackReport, FallbackRun, Registration, SkippedFallback,
};
use crate::{BoxError, Error, FallbackConfig, Result};

/// A fallback action: gets the context its condition held on.
type Action = Arc<dyn Fn(Context) -> BoxFuture<Result<(), BoxError>> + Send + Sync>;

/// A fallback in the registry.
struct Registered {
    definition: FallbackDefinition,
    condition: Condition,
    action: Action,
}

impl fmt::Debug for Registered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registered")
            .field("definition", &self.definition)
            .finish_non_exhaustive()
    }
}

/// The fallbacks, by name: active ones (evaluated, in registration order) and pending
/// ones (parsed, waiting for storage to take their definition, oldest first).
///
/// A fallback becomes active only once its definition `{name, condition, metadata,
/// registered_at}` is stored under `<namespace>:definition:<name>`; registrations and
/// definition writes are serialized by one async lock, so storage and the registry agree.
/// A name is active, pending, both (a pending replacement of an active fallback) or
/// neither; activating a pending fallback adds it before removing it from the pending
/// list, so it is never missing in between.
pub(super) struct Registry {
    parser: ConditionParser,
    namespace: String,
    /// How long one action may run.
    timeout: Duration,
    store: Store,
    active: RwLock<Vec<Arc<Registered>>>,
    pending: Mutex<Vec<Arc<Registered>>>,
    /// Serializes registrations and definition writes.
    registering: tokio::sync::Mutex<()>,
}

impl Registry {
    /// No fallbacks; conditions parsed by `parser`, definitions stored under `config`'s
    /// namespace in `store`, each action run for at most `config`'s callback timeout.
    pub(super) fn new(parser: ConditionParser, config: &FallbackConfig, store: Store) -> Self {
        Self {
            parser,
            namespace: config.namespace.clone(),
            timeout: config.callback_timeout,
            store,
            active: RwLock::new(Vec::new()),
            pending: Mutex::new(Vec::new()),
            registering: tokio::sync::Mutex::new(()),
        }
    }

    /// Parses, stores and activates a fallback (see [`FallbackManager::register_fallback`]).
    pub(super) async fn register<F, Fut>(
        &self,
        name: &str,
        condition: &str,
        action: F,
        metadata: Value,
    ) -> Result<FallbackDefinition>
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let registered = self.prepare(name, condition, action, metadata)?;
        let _registering = self.registering.lock().await;
        self.store_definition(&registered.definition).await?;
        let definition = registered.definition.clone();
        self.activate(registered);
        Ok(definition)
    }

    /// [`register`](Self::register), keeping the fallback pending when storage fails
    /// transiently (see [`FallbackManager::register_fallback_or_queue`]).
    pub(super) async fn register_or_queue<F, Fut>(
        &self,
        name: &str,
        condition: &str,
        action: F,
        metadata: Value,
    ) -> Result<Registration>
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let registered = self.prepare(name, condition, action, metadata)?;
        let _registering = self.registering.lock().await;
        match self.store_definition(&registered.definition).await {
            Ok(()) => {
                self.activate(registered);
                Ok(Registration::Active)
            }
            Err(Error::Storage { source, .. }) if !refused_for_good(&source) => {
                tracing::warn!(
                    fallback = %name,
                    error = %source,
                    "fallback definition not stored: the fallback waits, inactive, until storage takes it"
                );
                let mut pending = self.pending.lock();
                match pending
                    .iter_mut()
                    .find(|waiting| waiting.definition.name == name)
                {
                    Some(slot) => *slot = registered,
                    None => pending.push(registered),
                }
                Ok(Registration::Pending)
            }
            Err(error) => Err(error),
        }
    }

    /// The names of the pending fallbacks, oldest first.
    pub(super) fn pending_names(&self) -> Vec<String> {
        self.pending
            .lock()
            .iter()
            .map(|waiting| waiting.definition.name.clone())
            .collect()
    }

    /// Stores the pending fallbacks' definitions, oldest first, activating each; stops
    /// at the first transient failure (one storage timeout per call at most) and drops
    /// one refused for good. Waits for a registration in progress if `wait`, else leaves
    /// them to the next call. With nothing pending it touches neither lock nor storage.
    pub(super) async fn store_pending(&self, wait: bool) -> Result<()> {
        if self.pending.lock().is_empty() {
            return Ok(());
        }
        let _registering = if wait {
            self.registering.lock().await
        } else {
            match self.registering.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok(()),
            }
        };
        loop {
            let Some(waiting) = self.pending.lock().first().cloned() else {
                return Ok(());
            };
            let name = &waiting.definition.name;
            match self.store_definition(&waiting.definition).await {
                Ok(()) => {
                    tracing::info!(fallback = %name, "fallback definition stored; the fallback is active");
                    self.activate(Arc::clone(&waiting));
                }
                Err(Error::Storage { source, .. }) if refused_for_good(&source) => {
                    tracing::error!(
                        fallback = %name,
                        error = %source,
                        "fallback definition refused by storage for good; the fallback is dropped"
                    );
                    self.pending
                        .lock()
                        .retain(|other| !Arc::ptr_eq(other, &waiting));
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Deletes the definition of `name`, then forgets the fallback, active or pending;
    /// whether it was registered.
    pub(super) async fn unregister(&self, name: &str) -> Result<bool> {
        let _registering = self.registering.lock().await;
        let key = self.definition_key(name);
        self.store.delete(&key).await.map_err(|source| {
            Error::storage(format!("deleting fallback definition {name:?}"), source)
        })?;
        let was_pending = {
            let mut pending = self.pending.lock();
            let before = pending.len();
            pending.retain(|waiting| waiting.definition.name != name);
            pending.len() != before
        };
        let mut active = self.active.write();
        let before = active.len();
        active.retain(|known| known.definition.name != name);
        Ok(active.len() != before || was_pending)
    }

    /// The active fallbacks' definitions, in registration order.
    pub(super) fn definitions(&self) -> Vec<FallbackDefinition> {
        self.active
            .read()
            .iter()
            .map(|registered| registered.definition.clone())
            .collect()
    }

    /// Runs the actions of the active fallbacks whose conditions hold for `context`, all
    /// at once in the calling task, each isolated (see
    /// [`FallbackManager::evaluate_fallbacks`]).
    pub(super) async fn evaluate(&self, context: &Context) -> FallbackReport {
        let registered: Vec<Arc<Registered>> = self.active.read().clone();
        let mut report = FallbackReport::default();
        let mut firing = Vec::new();
        for fallback in registered {
            match fallback.condition.evaluate(context) {
                Ok(false) => {}
                Ok(true) => firing.push(fallback),
                Err(error) => report.skipped.push(SkippedFallback {
                    name: fallback.definition.name.clone(),
                    error,
                }),
            }
        }
        let timeout = self.timeout;
        let outcomes = futures_util::future::join_all(firing.iter().map(|fallback| {
            let (action, context) = (fallback.action.clone(), context.clone());
            isolate::run(move || action(context), timeout)
        }))
        .await;
        for (fallback, outcome) in firing.iter().zip(outcomes) {
            let name = &fallback.definition.name;
            if !outcome.is_completed() {
                tracing::warn!(fallback = %name, %outcome, "fallback action did not complete");
            }
            report.fired.push(FallbackRun {
                name: name.clone(),
                outcome,
            });
        }
        report
    }

    /// Parses and checks a registration, before any lock or storage is touched.
    fn prepare<F, Fut>(
        &self,
        name: &str,
        condition: &str,
        action: F,
        metadata: Value,
    ) -> Result<Arc<Registered>>
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let parsed = self
            .parser
            .parse(condition)
            .map_err(|source| Error::InvalidCondition {
                name: name.to_owned(),
                source,
            })?;
        let metadata = match metadata {
            Value::Null => Map::new(),
            Value::Object(map) => map,
            other => {
                return Err(Error::InvalidMetadata {
                    name: name.to_owned(),
                    found: json_kind(&other),
                });
            }
        };
        Ok(Arc::new(Registered {
            definition: FallbackDefinition {
                name: name.to_owned(),
                condition: condition.to_owned(),
                metadata,
                registered_at: Timestamp::now(),
            },
            condition: parsed,
            action: Arc::new(move |context| Box::pin(action(context))),
        }))
    }

    /// Writes `definition` under its key; the caller holds the registration lock.
    async fn store_definition(&self, definition: &FallbackDefinition) -> Result<()> {
        let name = &definition.name;
        let key = self.definition_key(name);
        let value = serde_json::to_value(definition).map_err(|source| {
            Error::storage(
                format!("encoding fallback definition {name:?}"),
                StorageError::serialization(&key, source),
            )
        })?;
        self.store.set(&key, value, None).await.map_err(|source| {
            Error::storage(format!("storing fallback definition {name:?}"), source)
        })
    }

    /// Makes a stored fallback active, replacing one of the same name, active or
    /// pending; the caller holds the registration lock. Added before it leaves the
    /// pending list, so that it is never in neither.
    fn activate(&self, registered: Arc<Registered>) {
        let name = registered.definition.name.clone();
        {
            let mut active = self.active.write();
            match active
                .iter_mut()
                .find(|known| known.definition.name == name)
            {
                Some(slot) => *slot = registered,
                None => active.push(registered),
            }
        }
        self.pending
            .lock()
            .retain(|waiting| waiting.definition.name != name);
    }

    fn definition_key(&self, name: &str) -> String {
        format!("{}:definition:{name}", self.namespace)
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("namespace", &self.namespace)
            .field("active", &self.active.read().len())
            .field("pending", &self.pending.lock().len())
            .finish_non_exhaustive()
    }
}

impl FallbackManager {
    /// Registers a fallback: when `condition` holds for a context passed to
    /// [`evaluate_fallbacks`](Self::evaluate_fallbacks), `action` runs with that context.
    ///
    /// The condition is parsed at once with the manager's parser, and the definition
    /// `{name, condition, metadata, registered_at}` is stored as a JSON object under
    /// `<namespace>:definition:<name>` before the fallback is registered. Registering a
    /// name again replaces it (a [pending](Self::pending_fallbacks) one too). `metadata`
    /// is a JSON object, or null for none.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCondition`], [`Error::InvalidMetadata`], or [`Error::Storage`] if
    /// the definition could not be stored; in each case nothing is registered.
    /// [`register_fallback_or_queue`](Self::register_fallback_or_queue) waits out a
    /// storage outage instead.
    pub async fn register_fallback<F, Fut>(
        &self,
        name: &str,
        condition: &str,
        action: F,
        metadata: Value,
    ) -> Result<FallbackDefinition>
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.registry
            .register(name, condition, action, metadata)
            .await
    }

    /// [`register_fallback`](Self::register_fallback) that rides out a storage outage, as
    /// transition records do: when storage fails transiently (a timeout, a broken
    /// connection, an error from the server), the fallback is kept pending, inactive (no
    /// [`evaluate_fallbacks`](Self::evaluate_fallbacks) runs it, a fallback of the same
    /// name already active stays), and becomes active once its definition is stored by
    /// [`flush_pending`](Self::flush_pending) or after the next transition.
    /// [`pending_fallbacks`](Self::pending_fallbacks) names the fallbacks waiting.
    ///
    /// Registering a pending name again replaces its definition in place.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCondition`] and [`Error::InvalidMetadata`] as
    /// [`register_fallback`](Self::register_fallback); [`Error::Storage`] only when
    /// storage refuses the definition for good (an invalid argument, a value it cannot
    /// encode). In each case nothing is registered.
    pub async fn register_fallback_or_queue<F, Fut>(
        &self,
        name: &str,
        condition: &str,
        action: F,
        metadata: Value,
    ) -> Result<Registration>
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.registry
            .register_or_queue(name, condition, action, metadata)
            .await
    }

    /// The names of the fallbacks whose definition waits for storage (see
    /// [`register_fallback_or_queue`](Self::register_fallback_or_queue)), oldest first;
    /// they are not active yet.
    #[must_use]
    pub fn pending_fallbacks(&self) -> Vec<String> {
        self.registry.pending_names()
    }

    /// Removes a fallback and its stored definition; whether it was registered (active
    /// or [pending](Self::pending_fallbacks)).
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] if the definition could not be deleted; the fallback stays.
    pub async fn unregister_fallback(&self, name: &str) -> Result<bool> {
        self.registry.unregister(name).await
    }

    /// The active fallbacks' definitions, in registration order (the
    /// [pending](Self::pending_fallbacks) ones are not among them).
    #[must_use]
    pub fn fallback_definitions(&self) -> Vec<FallbackDefinition> {
        self.registry.definitions()
    }

    /// Runs the action of every registered fallback whose condition holds for `context`,
    /// all at once (in the calling task), and reports what fired and how it ended, in
    /// registration order.
    ///
    /// Actions are isolated from each other: an error, a panic or running longer than
    /// [`FallbackConfig::callback_timeout`] is reported in its [`FallbackRun`], and a slow
    /// action holds back none of the others. A condition that cannot be evaluated (a
    /// variable the context lacks) skips its fallback and is reported in
    /// [`FallbackReport::skipped`].
    pub async fn evaluate_fallbacks(&self, context: &Context) -> FallbackReport {
        self.registry.evaluate(context).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use storage::Storage;

    use super::*;
    use crate::manager::store::testing::{Scripted, Writes};
    use crate::rules::Outcome;

    fn registry(writes: Writes) -> (Registry, Arc<Scripted>) {
        let config = FallbackConfig {
            namespace: "svc".to_owned(),
            callback_timeout: Duration::from_secs(1),
            ..FallbackConfig::default()
        };
        let storage = Arc::new(Scripted::new(writes));
        let store = Store::new(storage.clone(), Duration::from_secs(1));
        (
            Registry::new(ConditionParser::new(), &config, store),
            storage,
        )
    }

    async fn ok(_: Context) -> Result<(), BoxError> {
        Ok(())
    }

    fn active(registry: &Registry) -> Vec<(String, String)> {
        registry
            .definitions()
            .into_iter()
            .map(|definition| (definition.name, definition.condition))
            .collect()
    }

    fn pair(name: &str, condition: &str) -> (String, String) {
        (name.to_owned(), condition.to_owned())
    }

    #[tokio::test]
    async fn a_registration_is_stored_before_it_is_active_and_replaces_its_name() {
        let (registry, storage) = registry(Writes::Work);
        let definition = registry
            .register("slow", "severity >= 0.8", ok, json!({"team": "db"}))
            .await
            .unwrap();
        assert_eq!(registry.definition_key("slow"), "svc:definition:slow");
        let stored = storage.inner.get("svc:definition:slow").await.unwrap();
        assert_eq!(stored, Some(serde_json::to_value(&definition).unwrap()));
        assert_eq!(stored.unwrap()["metadata"], json!({"team": "db"}));
        registry
            .register("slow", "severity >= 0.9", ok, Value::Null)
            .await
            .unwrap();
        registry
            .register("other", "step == 4", ok, Value::Null)
            .await
            .unwrap();
        assert_eq!(
            active(&registry),
            [pair("slow", "severity >= 0.9"), pair("other", "step == 4")]
        );
    }

    #[tokio::test]
    async fn a_bad_condition_metadata_or_store_registers_nothing() {
        let (registry, storage) = registry(Writes::Work);
        let error = registry
            .register("bad", "severity >=", ok, Value::Null)
            .await
            .unwrap_err();
        assert!(matches!(error, Error::InvalidCondition { .. }), "{error:?}");
        let error = registry
            .register("bad", "severity > 1", ok, json!([1]))
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                Error::InvalidMetadata {
                    found: "an array",
                    ..
                }
            ),
            "{error:?}"
        );
        storage.set_writes(Writes::Fail);
        let error = registry
            .register("down", "severity > 1", ok, Value::Null)
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Storage { .. }), "{error:?}");
        assert!(active(&registry).is_empty());
        assert!(registry.pending_names().is_empty());
        assert!(storage.inner.keys("*").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_queued_registration_waits_inactive_until_its_definition_is_stored() {
        let (registry, storage) = registry(Writes::Work);
        registry
            .register("x", "severity > 0.5", ok, Value::Null)
            .await
            .unwrap();
        storage.set_writes(Writes::Fail);
        let queued = registry
            .register_or_queue("x", "severity > 0.9", ok, Value::Null)
            .await
            .unwrap();
        assert_eq!(queued, Registration::Pending);
        let queued = registry
            .register_or_queue("y", "step == 1", ok, Value::Null)
            .await
            .unwrap();
        assert_eq!(queued, Registration::Pending);
        assert_eq!(registry.pending_names(), ["x", "y"]);
        // The active "x" stays until its replacement is stored.
        assert_eq!(active(&registry), [pair("x", "severity > 0.5")]);
        assert!(registry.store_pending(true).await.is_err());
        assert_eq!(registry.pending_names(), ["x", "y"]);

        storage.set_writes(Writes::Work);
        // Someone else registering: a quiet call leaves the work to the next one.
        let registering = registry.registering.lock().await;
        registry.store_pending(false).await.unwrap();
        assert_eq!(registry.pending_names(), ["x", "y"]);
        drop(registering);
        registry.store_pending(false).await.unwrap();
        assert!(registry.pending_names().is_empty());
        assert_eq!(
            active(&registry),
            [pair("x", "severity > 0.9"), pair("y", "step == 1")]
        );
        assert!(storage.inner.exists("svc:definition:y").await.unwrap());
    }

    #[tokio::test]
    async fn a_definition_refused_for_good_is_an_error_or_dropped_from_the_queue() {
        let (registry, storage) = registry(Writes::Refuse);
        let error = registry
            .register_or_queue("x", "step == 1", ok, Value::Null)
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Storage { .. }), "{error:?}");
        assert!(registry.pending_names().is_empty());

        storage.set_writes(Writes::Fail);
        registry
            .register_or_queue("x", "step == 1", ok, Value::Null)
            .await
            .unwrap();
        storage.set_writes(Writes::Refuse);
        registry.store_pending(true).await.unwrap();
        assert!(registry.pending_names().is_empty());
        assert!(active(&registry).is_empty());
    }

    #[tokio::test]
    async fn unregistering_deletes_the_definition_and_forgets_either_kind() {
        let (registry, storage) = registry(Writes::Work);
        registry
            .register("a", "step == 1", ok, Value::Null)
            .await
            .unwrap();
        storage.set_writes(Writes::Fail);
        registry
            .register_or_queue("b", "step == 2", ok, Value::Null)
            .await
            .unwrap();
        assert!(registry.unregister("a").await.is_err(), "the delete failed");
        assert_eq!(active(&registry).len(), 1);
        storage.set_writes(Writes::Work);
        assert!(registry.unregister("a").await.unwrap());
        assert!(registry.unregister("b").await.unwrap());
        assert!(!registry.unregister("c").await.unwrap());
        assert!(active(&registry).is_empty() && registry.pending_names().is_empty());
        assert!(!storage.inner.exists("svc:definition:a").await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn evaluation_runs_what_holds_isolated_and_skips_what_cannot_be_evaluated() {
        let (registry, _) = registry(Writes::Work);
        let register = |name: &'static str, condition: &'static str, outcome: u8| {
            let registry = &registry;
            async move {
                registry
                    .register(
                        name,
                        condition,
                        move |_| async move {
                            match outcome {
                                0 => Ok(()),
                                1 => Err("no".into()),
                                2 => panic!("action bug"),
                                _ => std::future::pending().await,
                            }
                        },
                        Value::Null,
                    )
                    .await
                    .unwrap();
            }
        };
        register("works", "severity > 0.5", 0).await;
        register("fails", "severity > 0.5", 1).await;
        register("panics", "severity > 0.5", 2).await;
        register("hangs", "severity > 0.5", 3).await;
        register("quiet", "severity > 0.95", 0).await;
        register("blind", "step == 4", 0).await;

        let report = registry
            .evaluate(&Context::new().with("severity", 0.9))
            .await;
        let fired: Vec<(&str, &Outcome)> = report
            .fired
            .iter()
            .map(|run| (run.name.as_str(), &run.outcome))
            .collect();
        assert_eq!(
            fired,
            [
                ("works", &Outcome::Completed),
                ("fails", &Outcome::Failed("no".to_owned())),
                ("panics", &Outcome::Panicked("action bug".to_owned())),
                ("hangs", &Outcome::TimedOut),
            ]
        );
        let skipped: Vec<&str> = report
            .skipped
            .iter()
            .map(|skip| skip.name.as_str())
            .collect();
        assert_eq!(skipped, ["blind"]);
    }
}

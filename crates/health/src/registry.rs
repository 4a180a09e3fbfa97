//! The component registry: [`ComponentRegistry`], where the code reports its components
//! healthy, degraded or failed, and [`ComponentCounts`], how many are in each status.

use std::collections::BTreeMap;
use std::sync::Arc;

use health_model::{ComponentHealth, ComponentStatus, SystemHealth, SystemStatus, Timestamp};
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use serde_json::{Map, Value};

/// The health of the service's components (a model loader, a cache, an external API),
/// as the code using them reports it: the original's `SystemHealthMonitor`, but an
/// ordinary value instead of a process-wide singleton.
///
/// Clones share one registry, so hand a clone to every part of the service that reports
/// or reads. All methods are thread-safe and never hold a lock across an `.await`.
///
/// Marking an unregistered component registers it. Reading never does: asking for a
/// component nobody reported returns it as `unknown` without adding it, so probes cannot
/// inflate the counts. Counters (`error_count`, `warning_count`) only ever grow;
/// re-registering a component keeps them.
///
/// ```
/// use health::{ComponentRegistry, ComponentStatus};
/// use health::model::SystemStatus;
///
/// let registry = ComponentRegistry::new();
/// registry.register("model", None);
/// registry.mark_failed("cache", Some("connection refused"), None);
/// registry.mark_failed("cache", Some("connection refused"), None);
///
/// let cache = registry.get_component_health("cache");
/// assert_eq!(cache.status, ComponentStatus::Failed);
/// assert_eq!(cache.error_count, 2);
/// assert_eq!(registry.get_component_health("nobody").status, ComponentStatus::Unknown);
/// assert_eq!(registry.len(), 2); // reading "nobody" registered nothing
/// assert_eq!(registry.system_health().status, SystemStatus::Failed);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ComponentRegistry {
    components: Arc<RwLock<BTreeMap<String, ComponentHealth>>>,
}

/// How many registered components are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ComponentCounts {
    /// Components marked healthy.
    pub healthy: u64,
    /// Components marked degraded.
    pub degraded: u64,
    /// Components marked failed.
    pub failed: u64,
    /// Components whose status is unknown.
    pub unknown: u64,
}

impl ComponentCounts {
    /// All components.
    #[must_use]
    pub const fn total(&self) -> u64 {
        self.healthy + self.degraded + self.failed + self.unknown
    }

    /// The overall verdict: `failed` if anything failed, else `degraded` if anything is
    /// degraded, else `unknown` if anything is unknown or nothing is counted, else
    /// `healthy`.
    #[must_use]
    pub const fn status(&self) -> SystemStatus {
        if self.failed > 0 {
            SystemStatus::Failed
        } else if self.degraded > 0 {
            SystemStatus::Degraded
        } else if self.unknown > 0 || self.healthy == 0 {
            SystemStatus::Unknown
        } else {
            SystemStatus::Healthy
        }
    }

    /// Counts one more component in `status`.
    pub const fn add(&mut self, status: ComponentStatus) {
        match status {
            ComponentStatus::Healthy => self.healthy += 1,
            ComponentStatus::Degraded => self.degraded += 1,
            ComponentStatus::Failed => self.failed += 1,
            ComponentStatus::Unknown => self.unknown += 1,
        }
    }

    /// As the `system` section of a [`HealthState`](crate::HealthState).
    #[must_use]
    pub const fn to_system_health(&self) -> SystemHealth {
        SystemHealth {
            status: self.status(),
            healthy_components: self.healthy,
            degraded_components: self.degraded,
            failed_components: self.failed,
            total_components: self.total(),
        }
    }
}

impl ComponentRegistry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `name` as healthy, with `metadata`. Registering a known component keeps
    /// its status and counters and merges the metadata in.
    pub fn register(&self, name: &str, metadata: Option<Map<String, Value>>) {
        self.update_component(name, |component| merge(&mut component.metadata, metadata));
    }

    /// Removes `name`; `true` if it was registered.
    pub fn unregister(&self, name: &str) -> bool {
        self.write().remove(name).is_some()
    }

    /// Removes every component.
    pub fn clear(&self) {
        self.write().clear();
    }

    /// Marks `name` healthy and clears `fallback_active`. Counters, `last_error` and
    /// `last_error_time` are kept as the component's history.
    pub fn mark_healthy(&self, name: &str, metadata: Option<Map<String, Value>>) {
        self.update_component(name, |component| {
            set_status(component, ComponentStatus::Healthy);
            component.fallback_active = false;
            merge(&mut component.metadata, metadata);
        });
    }

    /// Marks `name` degraded: `warning_count` grows by one, `fallback_active` is set as
    /// given, and `error` (if any) becomes `last_error`.
    pub fn mark_degraded(
        &self,
        name: &str,
        error: Option<&str>,
        fallback_active: bool,
        metadata: Option<Map<String, Value>>,
    ) {
        self.update_component(name, |component| {
            set_status(component, ComponentStatus::Degraded);
            component.warning_count = component.warning_count.saturating_add(1);
            component.fallback_active = fallback_active;
            record_error(component, error);
            merge(&mut component.metadata, metadata);
        });
    }

    /// Marks `name` failed: `error_count` grows by one, `last_error_time` is now, and
    /// `error` (if any) becomes `last_error`. `fallback_active` is left as it was.
    pub fn mark_failed(
        &self,
        name: &str,
        error: Option<&str>,
        metadata: Option<Map<String, Value>>,
    ) {
        self.update_component(name, |component| {
            set_status(component, ComponentStatus::Failed);
            component.error_count = component.error_count.saturating_add(1);
            record_error(component, error);
            component.last_error_time = Some(component.last_updated);
            merge(&mut component.metadata, metadata);
        });
    }

    /// Changes `name` with `edit` in one atomic step, registering it (healthy) first if
    /// needed. The name cannot be changed this way.
    pub fn update_component(&self, name: &str, edit: impl FnOnce(&mut ComponentHealth)) {
        let mut components = self.write();
        let component = components
            .entry(name.to_owned())
            .or_insert_with(|| ComponentHealth {
                name: name.to_owned(),
                status: ComponentStatus::Healthy,
                ..ComponentHealth::default()
            });
        edit(component);
        component.name.clear();
        component.name.push_str(name);
    }

    /// `name`'s health; a component nobody registered comes back `unknown`, and is not
    /// registered by asking.
    #[must_use]
    pub fn get_component_health(&self, name: &str) -> ComponentHealth {
        self.get(name).unwrap_or_else(|| ComponentHealth {
            name: name.to_owned(),
            status: ComponentStatus::Unknown,
            ..ComponentHealth::default()
        })
    }

    /// `name`'s health, or `None` if it is not registered.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<ComponentHealth> {
        self.read().get(name).cloned()
    }

    /// Whether `name` is registered.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.read().contains_key(name)
    }

    /// Every component, by name.
    #[must_use]
    pub fn get_all_health(&self) -> BTreeMap<String, ComponentHealth> {
        self.read().clone()
    }

    /// How many components are registered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no component is registered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Components per status.
    #[must_use]
    pub fn counts(&self) -> ComponentCounts {
        let mut counts = ComponentCounts::default();
        for component in self.read().values() {
            counts.add(component.status);
        }
        counts
    }

    /// The counts and the overall verdict (see [`ComponentCounts::status`]).
    #[must_use]
    pub fn system_health(&self) -> SystemHealth {
        self.counts().to_system_health()
    }

    /// Whether every component is healthy (and there is at least one).
    #[must_use]
    pub fn is_system_healthy(&self) -> bool {
        self.counts().status() == SystemStatus::Healthy
    }

    /// Whether some component is degraded or failed.
    #[must_use]
    pub fn is_system_degraded(&self) -> bool {
        matches!(
            self.counts().status(),
            SystemStatus::Degraded | SystemStatus::Failed
        )
    }

    /// Applies an external alert: like the `mark_*` methods, but `fallback_active` is
    /// left alone (an alert says nothing about the service's own fallbacks).
    #[cfg(feature = "alerts")]
    pub(crate) fn apply_alert(
        &self,
        name: &str,
        status: ComponentStatus,
        error: Option<&str>,
        metadata: Map<String, Value>,
    ) {
        self.update_component(name, |component| {
            set_status(component, status);
            match status {
                ComponentStatus::Failed => {
                    component.error_count = component.error_count.saturating_add(1);
                    record_error(component, error);
                    component.last_error_time = Some(component.last_updated);
                }
                ComponentStatus::Degraded => {
                    component.warning_count = component.warning_count.saturating_add(1);
                    record_error(component, error);
                }
                ComponentStatus::Healthy | ComponentStatus::Unknown => {}
            }
            component.metadata.extend(metadata);
        });
    }

    /// Every component, borrowed under the read lock (for counting without copying).
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, ComponentHealth>> {
        self.components.read()
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, ComponentHealth>> {
        self.components.write()
    }
}

fn set_status(component: &mut ComponentHealth, status: ComponentStatus) {
    component.status = status;
    component.last_updated = Timestamp::now();
}

fn record_error(component: &mut ComponentHealth, error: Option<&str>) {
    if let Some(error) = error {
        component.last_error = Some(error.to_owned());
        component.last_error_time = Some(component.last_updated);
    }
}

fn merge(target: &mut Map<String, Value>, metadata: Option<Map<String, Value>>) {
    if let Some(metadata) = metadata {
        target.extend(metadata);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Option<Map<String, Value>> {
        match value {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    #[test]
    fn marks_update_status_counters_and_errors() {
        let registry = ComponentRegistry::new();
        registry.mark_degraded("cache", Some("slow"), true, map(json!({"a": 1})));
        registry.mark_degraded("cache", None, false, None);
        let cache = registry.get_component_health("cache");
        assert_eq!(cache.status, ComponentStatus::Degraded);
        assert_eq!(cache.warning_count, 2);
        assert!(!cache.fallback_active);
        assert_eq!(cache.last_error.as_deref(), Some("slow"));
        assert_eq!(cache.metadata["a"], 1);

        registry.mark_failed("cache", Some("down"), map(json!({"b": 2})));
        registry.mark_healthy("cache", None);
        let cache = registry.get_component_health("cache");
        assert_eq!(cache.status, ComponentStatus::Healthy);
        assert_eq!((cache.error_count, cache.warning_count), (1, 2));
        assert_eq!(cache.last_error.as_deref(), Some("down"));
        assert!(cache.last_error_time.is_some());
        assert_eq!(
            cache.metadata,
            *map(json!({"a": 1, "b": 2})).as_ref().unwrap()
        );
    }

    #[test]
    fn registering_again_keeps_history() {
        let registry = ComponentRegistry::new();
        registry.mark_failed("db", Some("x"), None);
        registry.register("db", map(json!({"version": "1.0"})));
        let db = registry.get_component_health("db");
        assert_eq!(db.status, ComponentStatus::Failed);
        assert_eq!(db.error_count, 1);
        assert_eq!(db.metadata["version"], "1.0");
    }

    #[test]
    fn counts_and_status_follow_the_worst_component() {
        fn check(marks: &[(&str, ComponentStatus)], expected: SystemStatus) {
            let registry = ComponentRegistry::new();
            for (name, status) in marks {
                match status {
                    Healthy => registry.mark_healthy(name, None),
                    Degraded => registry.mark_degraded(name, None, false, None),
                    Failed => registry.mark_failed(name, None, None),
                    Unknown => registry.update_component(name, |component| {
                        component.status = Unknown;
                    }),
                }
            }
            let health = registry.system_health();
            assert_eq!(health.status, expected, "{marks:?}");
            assert_eq!(health.total_components, marks.len() as u64);
        }
        use ComponentStatus::{Degraded, Failed, Healthy, Unknown};
        check(&[], SystemStatus::Unknown);
        check(&[("a", Healthy)], SystemStatus::Healthy);
        check(&[("a", Healthy), ("b", Degraded)], SystemStatus::Degraded);
        check(
            &[("a", Failed), ("b", Degraded), ("c", Healthy)],
            SystemStatus::Failed,
        );
        check(&[("a", Healthy), ("b", Unknown)], SystemStatus::Unknown);
    }

    #[test]
    fn update_cannot_rename() {
        let registry = ComponentRegistry::new();
        registry.update_component("a", |component| component.name = "b".into());
        assert!(registry.contains("a"));
        assert_eq!(registry.get_component_health("a").name, "a");
        assert!(!registry.contains("b"));
    }
}

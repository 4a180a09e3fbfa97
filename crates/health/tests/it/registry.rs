//! The component registry (the original's `test_component_health.py`, re-expressed),
//! with reads that never mutate and no singleton.

use health::model::{ComponentHealth, SystemStatus};
use health::{ComponentRegistry, ComponentStatus};
use serde_json::json;

#[test]
fn a_component_keeps_its_fields_and_serializes_like_the_original() {
    let registry = ComponentRegistry::new();
    registry.register("test", json!({"version": "1.0"}).as_object().cloned());
    registry.mark_failed("test", Some("Test error"), None);
    registry.mark_failed("test", Some("Test error"), None);
    let component = registry.get_component_health("test");
    assert_eq!(component.name, "test");
    assert_eq!(component.warning_count, 0);
    let json = serde_json::to_value(&component).unwrap();
    assert_eq!(json["name"], "test");
    assert_eq!(json["status"], "failed");
    assert_eq!(json["error_count"], 2);
    assert_eq!(json["last_error"], "Test error");
    assert_eq!(json["metadata"]["version"], "1.0");
    assert!(json["last_updated"].as_str().unwrap().ends_with('Z'));
    assert!(json["last_error_time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(json["fallback_active"], false);
    let fresh: ComponentHealth = serde_json::from_value(json!({"name": "x"})).unwrap();
    assert_eq!((fresh.error_count, fresh.warning_count), (0, 0));
}

#[test]
fn registries_are_independent_values_and_clones_share() {
    let first = ComponentRegistry::new();
    let second = ComponentRegistry::new();
    first.register("only-in-first", None);
    assert!(second.is_empty(), "no process-wide singleton");
    let clone = first.clone();
    clone.mark_healthy("added-through-clone", None);
    assert_eq!(first.len(), 2);
}

#[test]
fn registering_makes_a_component_healthy() {
    let registry = ComponentRegistry::new();
    registry.register("test_component", None);
    assert_eq!(
        registry.get_component_health("test_component").status,
        ComponentStatus::Healthy
    );
    registry.mark_healthy("other", None);
    assert_eq!(
        registry.get_component_health("other").status,
        ComponentStatus::Healthy
    );
}

#[test]
fn all_health_lists_every_component() {
    let registry = ComponentRegistry::new();
    registry.register("comp1", None);
    registry.register("comp2", None);
    let all = registry.get_all_health();
    assert_eq!(all.len(), 2);
    assert!(all.contains_key("comp1") && all.contains_key("comp2"));
}

#[test]
fn system_counts_follow_the_marks() {
    let registry = ComponentRegistry::new();
    assert_eq!(registry.system_health().status, SystemStatus::Unknown);
    registry.mark_healthy("comp1", None);
    assert!(registry.is_system_healthy());
    registry.mark_failed("comp2", Some("Error"), None);
    let system = registry.system_health();
    assert_eq!(
        (
            system.healthy_components,
            system.failed_components,
            system.total_components
        ),
        (1, 1, 2)
    );
    // The original said "degraded" here while the monitor said "failed"; one answer now.
    assert_eq!(system.status, SystemStatus::Failed);
    assert!(registry.is_system_degraded());
    assert!(!registry.is_system_healthy());
}

#[test]
fn reading_an_unknown_component_does_not_register_it() {
    let registry = ComponentRegistry::new();
    registry.register("real", None);
    let ghost = registry.get_component_health("ghost");
    assert_eq!(ghost.name, "ghost");
    assert_eq!(ghost.status, ComponentStatus::Unknown);
    assert_eq!(registry.len(), 1);
    assert_eq!(registry.system_health().total_components, 1);
    assert!(registry.get("ghost").is_none());
}

#[test]
fn degraded_marks_record_fallback_and_error() {
    let registry = ComponentRegistry::new();
    registry.mark_degraded("model", Some("using heuristics"), true, None);
    let model = registry.get_component_health("model");
    assert_eq!(model.status, ComponentStatus::Degraded);
    assert_eq!(model.warning_count, 1);
    assert!(model.fallback_active);
    assert_eq!(model.last_error.as_deref(), Some("using heuristics"));
    assert!(model.last_error_time.is_some());
    registry.mark_healthy("model", None);
    assert!(!registry.get_component_health("model").fallback_active);
    assert!(registry.unregister("model"));
    assert!(!registry.unregister("model"));
    registry.mark_healthy("a", None);
    registry.clear();
    assert!(registry.is_empty());
}

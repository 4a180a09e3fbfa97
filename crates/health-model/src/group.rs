use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{HealthCheckStatus, SystemStatus};

/// The health of a group of checks (liveness, readiness, start-up, or one an operator
/// named), as the monitor reads it from its cache.
///
/// `status` is `failed` when a critical member is unhealthy, `unknown` when none is but a
/// critical member has not run yet, `degraded` when a member is degraded, a non-critical
/// member unhealthy or any member's status unknown, and `healthy` otherwise (an empty
/// group included: a group with nothing to check has nothing failing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupHealth {
    /// The group's name.
    pub name: String,
    /// The verdict over the members.
    pub status: SystemStatus,
    /// Each member's status, by check name.
    pub checks: BTreeMap<String, GroupMember>,
    /// Critical members that are unhealthy, sorted.
    pub failed: Vec<String>,
    /// Critical members that have not produced a result yet, sorted.
    pub pending: Vec<String>,
}

impl GroupHealth {
    /// Whether no critical member is unhealthy or still pending.
    #[must_use]
    pub fn is_up(&self) -> bool {
        self.failed.is_empty() && self.pending.is_empty()
    }
}

/// One member of a [`GroupHealth`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupMember {
    /// The status the check shows (after its thresholds).
    pub status: HealthCheckStatus,
    /// Whether the check is critical.
    pub critical: bool,
}

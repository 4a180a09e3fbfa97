use tokio::time::Instant;

use super::Inner;
use super::state::Undelivered;
use crate::record::{Member, VoteTally};
use crate::status::{ClusterStatus, Coordination, CoordinationStatus, MemberStatus, Role};

pub(super) async fn status(inner: &Inner) -> ClusterStatus {
    refresh_members(inner).await;
    let now = Instant::now();
    let state = inner.state.lock();
    let leading = state.leading(now).is_some();
    let members: Vec<Member> = state
        .members
        .as_ref()
        .map(|(members, _)| members.clone())
        .unwrap_or_default();
    let votes = state.members.as_ref().map(|(members, _)| {
        VoteTally::count(
            members.len(),
            inner.config.quorum.needed(members.len()),
            members.iter().filter_map(|member| member.vote),
        )
    });
    let why = match state.coordination {
        Coordination::Coordinated => {
            let verdict = if leading { state.verdict.clone() } else { None };
            let no_quorum = votes
                .filter(|tally| !tally.has_quorum())
                .map(|tally| format!("{tally}: no quorum, nothing changes"));
            verdict
                .or(no_quorum)
                .unwrap_or_else(|| match &state.applied {
                    Some(decision) => decision.reason.clone(),
                    None => "no cluster decision yet: cascading locally while voting".to_owned(),
                })
        }
        _ => state
            .coordination_reason
            .clone()
            .unwrap_or_else(|| state.coordination.as_str().to_owned()),
    };
    ClusterStatus {
        instance_id: inner.id.clone(),
        coordination: CoordinationStatus {
            state: state.coordination,
            reason: state.coordination_reason.clone(),
            since_seconds: now
                .saturating_duration_since(state.coordination_since)
                .as_secs_f64(),
        },
        role: if leading {
            Role::Leader
        } else {
            Role::Follower
        },
        leader: state.leader.clone(),
        epoch: state.lease_epoch,
        mode: inner.manager.get_current_mode(),
        local_vote: state.local.as_ref().map(|local| local.target),
        members: members
            .into_iter()
            .map(|member| MemberStatus {
                mode: member.heartbeat.mode,
                vote: member.vote,
                health: member.heartbeat.health,
                version: member.heartbeat.version,
                applied: member.heartbeat.applied,
                coordination: member.heartbeat.coordination,
                leader: member.heartbeat.leader,
                last_seen: member.heartbeat.last_seen,
                id: member.id,
            })
            .collect(),
        votes,
        decision: state.applied.clone(),
        why,
        operator_request: state.operator.clone(),
        undelivered_request: state
            .undelivered
            .as_ref()
            .map(|undelivered| match undelivered {
                Undelivered::Request { request, .. } => format!(
                    "{} {} ({})",
                    if request.hold { "hold" } else { "override" },
                    request.mode,
                    request.id
                ),
                Undelivered::Release => "release".to_owned(),
            }),
    }
}

/// Lists the members again if the cached list is older than a heartbeat and the store
/// answers.
async fn refresh_members(inner: &Inner) {
    let stale = {
        let state = inner.state.lock();
        state.coordination == Coordination::Coordinated
            && state
                .members
                .as_ref()
                .is_none_or(|(_, at)| at.elapsed() >= inner.config.heartbeat_interval)
    };
    if !stale {
        return;
    }
    if let Ok(members) = inner.call("members", inner.store.members()).await {
        inner.state.lock().members = Some((members, Instant::now()));
    }
}

//! The background loop: heartbeats, elections, the leader's decisions, applying them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::Inner;
use super::state::{Role, Undelivered, drift};
use crate::decide::{self, Input, Verdict};
use crate::metrics::Stage;
use crate::record::{Decision, Heartbeat, Vote, VoteTally, now_rfc3339, rfc3339_of_ms};
use crate::status::Coordination;
use crate::store::{Acquire, Beat, Hint, Hints, Observation, Publication, Publish, Renewal};
use crate::{Error, Result};

/// The most a follower waits past the observed end of a lease before trying to take it,
/// spread so that followers do not all try at once.
const TAKEOVER_JITTER: Duration = Duration::from_millis(10);

pub(super) async fn run(inner: Arc<Inner>) {
    let mut stop = inner.stop.subscribe();
    if *stop.borrow_and_update() {
        return;
    }
    tracing::info!(instance = %inner.id, "cluster coordinator started");
    let mut hints: Option<Hints> = None;
    let mut next_tick = Instant::now();
    loop {
        let wake_at = inner.wake_at(next_tick);
        tokio::select! {
            biased;
            _ = stop.wait_for(|stopped| *stopped) => break,
            hint = next_hint(&mut hints) => {
                if hint.is_none() {
                    // The subscription ended: subscribe again and read the record now.
                    hints = None;
                }
            }
            () = inner.wake.notified() => {}
            () = tokio::time::sleep_until(wake_at) => {}
        }
        if *stop.borrow() {
            break;
        }
        inner.tick(&mut hints).await;
        next_tick = Instant::now() + inner.config.heartbeat_interval;
    }
    inner.step_down().await;
    let now = Instant::now();
    inner.state.lock().set_coordination(
        Coordination::Stopped,
        Some("the coordinator was stopped".to_owned()),
        now,
    );
    tracing::info!(instance = %inner.id, "cluster coordinator stopped");
}

async fn next_hint(hints: &mut Option<Hints>) -> Option<Hint> {
    match hints {
        Some(hints) => hints.next().await,
        None => std::future::pending().await,
    }
}

impl Inner {
    /// Runs one store call under the command timeout.
    pub(super) async fn call<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let timeout = self.config.effective_command_timeout();
        tokio::time::timeout(timeout, call)
            .await
            .unwrap_or(Err(Error::Timeout { operation, timeout }))
    }

    /// When the loop wakes next without a hint: the next heartbeat, or just after the
    /// observed lease ends, to take it over.
    fn wake_at(&self, next_tick: Instant) -> Instant {
        let state = self.state.lock();
        match state.lease_ends {
            Some(ends) if state.leading(Instant::now()).is_none() && ends > Instant::now() => {
                ends.min(next_tick)
            }
            _ => next_tick,
        }
    }

    async fn tick(&self, hints: &mut Option<Hints>) {
        if hints.is_none() {
            *hints = self.call("subscribe", self.store.subscribe()).await.ok();
        }
        self.deliver_undelivered().await;
        let beat = self.beat();
        let asked_renewal = beat.renew.map(|renewal| renewal.epoch);
        let started = Instant::now();
        match self.call("heartbeat", self.store.heartbeat(&beat)).await {
            Err(error) => self.heartbeat_failed(&error, started),
            Ok(observation) => {
                let regained = self.heartbeat_answered(&observation, started, asked_renewal);
                // Applied only if fresh: a pause between the reply and here must not
                // apply what a newer decision has replaced meanwhile.
                let fresh = started.elapsed() < self.config.effective_command_timeout();
                if fresh && let Some(decision) = observation.decision.clone() {
                    self.offer(decision).await;
                }
                if self.state.lock().leading(Instant::now()).is_some() {
                    self.lead(&observation, started).await;
                } else {
                    self.maybe_acquire(&observation).await;
                }
                self.reconcile().await;
                if regained {
                    // The subscription may have died with the connection: a new one, and
                    // the record read again at once (a hint may have been lost meanwhile).
                    *hints = self.call("subscribe", self.store.subscribe()).await.ok();
                    self.wake.notify_one();
                }
            }
        }
    }

    /// This instance's heartbeat: its state, its vote, a renewal if it leads, a listing
    /// if it decides.
    fn beat(&self) -> Beat {
        let now = Instant::now();
        let mut state = self.state.lock();
        if let Role::Leader { valid_until, .. } = state.role
            && now >= valid_until
        {
            tracing::warn!(instance = %self.id, "cluster lease ran out before it could be renewed; stepping down");
            state.lose_lease();
        }
        let leading = state.leading(now);
        let health = state
            .local
            .as_ref()
            .map(|local| local.health.clone())
            .unwrap_or_default();
        let seen = now_rfc3339();
        let heartbeat = Heartbeat {
            instance_id: self.id.clone(),
            mode: self.manager.get_current_mode(),
            health_score: health.health_score,
            health,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            applied: state.applied.as_ref().map(Decision::stamp),
            epoch_seen: state.max_epoch,
            coordination: state.coordination.as_str().to_owned(),
            leader: leading.is_some(),
            last_seen: seen.clone(),
            timestamp: seen,
        };
        let vote = state
            .local
            .as_ref()
            .map(|local| Vote::new(&self.id, local.target, &local.health));
        let mut beat = Beat::new(&self.id, heartbeat, vote);
        beat.member_ttl = self.config.member_ttl();
        beat.vote_ttl = self.config.vote_ttl;
        beat.renew = leading.map(|epoch| Renewal::new(epoch, self.config.lease_ttl));
        beat.list_members = leading.is_some();
        beat
    }

    fn heartbeat_failed(&self, error: &Error, started: Instant) {
        let now = Instant::now();
        let mut state = self.state.lock();
        if let Role::Leader { valid_until, .. } = state.role
            && now >= valid_until
        {
            tracing::warn!(instance = %self.id, %error, "cluster lease ran out without reaching the store; stepping down");
            state.lose_lease();
        }
        let silent_since = state.last_ok.unwrap_or(state.started);
        let silent = started.saturating_duration_since(silent_since);
        if silent >= self.config.member_ttl() && state.coordination != Coordination::Local {
            let reason = format!(
                "the cluster store has not answered for {:.1}s ({error}); keeping the last mode and cascading locally",
                silent.as_secs_f64()
            );
            tracing::warn!(instance = %self.id, %reason, "cluster coordination lost");
            state.set_coordination(Coordination::Local, Some(reason), now);
            drop(state);
            self.metrics.coordinated(false);
        } else {
            tracing::debug!(instance = %self.id, %error, "cluster heartbeat failed");
        }
    }

    /// Takes in a heartbeat's answer; whether coordination was just regained after the
    /// store was unreachable.
    fn heartbeat_answered(
        &self,
        observation: &Observation,
        started: Instant,
        asked_renewal: Option<u64>,
    ) -> bool {
        let now = Instant::now();
        let mut state = self.state.lock();
        state.last_ok = Some(now);
        state.server_clock = Some((observation.now_ms, now));
        let was_local = state.coordination == Coordination::Local;
        let established = state.set_coordination(Coordination::Coordinated, None, now);
        if let Some(epoch) = asked_renewal {
            if observation.renewed {
                if let Role::Leader { valid_until, .. } = &mut state.role {
                    *valid_until = started + self.config.lease_ttl - drift(self.config.lease_ttl);
                }
            } else if matches!(state.role, Role::Leader { epoch: current, .. } if current == epoch)
            {
                tracing::warn!(instance = %self.id, epoch, "cluster lease lost: the store refused its renewal");
                state.lose_lease();
            }
        }
        let observed = (observation.leader.clone(), observation.lease_epoch);
        // A leader learnt from a refused acquisition has no epoch yet: its epoch, read
        // now, is no second change.
        let learnt = state.lease_epoch.is_none() && state.leader == observed.0;
        let leader_changed = observed.0.is_some()
            && !learnt
            && (state.leader.clone(), state.lease_epoch) != observed;
        if leader_changed {
            tracing::info!(instance = %self.id, leader = ?observed.0, epoch = ?observed.1, "cluster leader observed");
        }
        (state.leader, state.lease_epoch) = observed;
        state.lease_ends = match (&observation.leader, observation.lease_remaining) {
            (Some(_), Some(remaining)) => {
                let jitter = self.rng.lock().below(TAKEOVER_JITTER);
                Some(now + remaining + Duration::from_millis(1) + jitter)
            }
            _ => None,
        };
        for epoch in [
            observation.lease_epoch.unwrap_or(0),
            observation.epoch_counter,
            observation
                .decision
                .as_ref()
                .map_or(0, |decision| decision.epoch),
        ] {
            state.note_epoch(epoch);
        }
        if let Some(members) = &observation.members {
            for member in members {
                let applied = member.heartbeat.applied.map_or(0, |stamp| stamp.epoch);
                state.note_epoch(applied.max(member.heartbeat.epoch_seen));
            }
            state.members = Some((members.clone(), now));
        }
        state.live_members = observation.live_members;
        state.operator = observation
            .operator
            .as_ref()
            .map(|(request, _)| request.clone());
        drop(state);
        self.metrics.members(observation.live_members);
        if leader_changed {
            self.metrics.leader_change();
        }
        if established {
            tracing::info!(instance = %self.id, "cluster coordination established");
            self.metrics.coordinated(true);
        }
        established && was_local
    }

    /// Takes the lease when it is free (or still held under this instance's id).
    async fn maybe_acquire(&self, observation: &Observation) {
        let mine = observation.leader.as_deref() == Some(self.id.as_str());
        if observation.leader.is_some() && !mine {
            return;
        }
        let floor = self.state.lock().max_epoch;
        let started = Instant::now();
        let ttl = self.config.lease_ttl;
        match self
            .call("acquire", self.store.acquire(&self.id, ttl, floor))
            .await
        {
            Ok(Acquire::Granted(epoch)) => {
                let mut state = self.state.lock();
                state.role = Role::Leader {
                    epoch,
                    valid_until: started + ttl - drift(ttl),
                    // Every live member heartbeats within one interval (and one command).
                    settled_at: Instant::now()
                        + self.config.heartbeat_interval
                        + self.config.effective_command_timeout(),
                };
                state.streak = decide::Streak::default();
                state.note_epoch(epoch);
                let changed = (state.leader.as_deref(), state.lease_epoch)
                    != (Some(self.id.as_str()), Some(epoch));
                state.leader = Some(self.id.clone());
                state.lease_epoch = Some(epoch);
                state.lease_ends = None;
                drop(state);
                tracing::info!(instance = %self.id, epoch, "cluster lease taken: leading");
                if changed {
                    self.metrics.leader_change();
                }
                // Decide at once, from a heartbeat that lists the members.
                self.wake.notify_one();
            }
            Ok(Acquire::Held(holder)) => {
                // Another instance took it first: follow it now, not at the next heartbeat.
                tracing::debug!(instance = %self.id, %holder, "cluster lease held by another instance");
                let mut state = self.state.lock();
                state.lease_ends = None;
                if state.leader.as_deref() != Some(holder.as_str()) {
                    tracing::info!(instance = %self.id, leader = %holder, "cluster leader observed");
                    state.leader = Some(holder);
                    state.lease_epoch = None;
                    drop(state);
                    self.metrics.leader_change();
                }
            }
            Err(error) => {
                tracing::debug!(instance = %self.id, %error, "cluster lease acquisition failed");
            }
        }
    }

    /// The leader's turn: count the vote and decide, fenced.
    async fn lead(&self, observation: &Observation, started: Instant) {
        let Some(members) = &observation.members else {
            return;
        };
        let now = Instant::now();
        let (epoch, applied, settled) = {
            let state = self.state.lock();
            let Some(epoch) = state.leading(now) else {
                return;
            };
            let settled =
                matches!(state.role, Role::Leader { settled_at, .. } if now >= settled_at);
            (epoch, state.applied.clone(), settled)
        };
        let newest_seen = members
            .iter()
            .map(|member| {
                let applied = member.heartbeat.applied.map_or(0, |stamp| stamp.epoch);
                applied.max(member.heartbeat.epoch_seen)
            })
            .max()
            .unwrap_or(0);
        if newest_seen > epoch {
            // A member has seen a newer epoch than this lease's: the store lost data after
            // issuing it (and its clock went back). Step down; the next lease starts above.
            tracing::warn!(instance = %self.id, epoch, newest_seen, "cluster lease is older than an epoch members have seen; stepping down to take a newer one");
            self.step_down().await;
            self.wake.notify_one();
            return;
        }
        // Decisions members applied that the record lost still count for the order.
        let members_seq = members
            .iter()
            .filter_map(|member| member.heartbeat.applied)
            .map(|stamp| stamp.seq)
            .max()
            .unwrap_or(0);
        let live = members.len();
        let tally = VoteTally::count(
            live,
            self.config.quorum.needed(live),
            members.iter().filter_map(|member| member.vote),
        );
        let record = observation.decision.as_ref();
        let (base, restore) = match (record, applied.as_ref()) {
            (Some(record), Some(own)) if own.stamp() > record.stamp() => (Some(own), true),
            (None, Some(own)) => (Some(own), true),
            (record, _) => (record, false),
        };
        let input = Input {
            now_ms: observation.now_ms,
            base,
            restore,
            operator: observation
                .operator
                .as_ref()
                .map(|(request, ttl)| (request, *ttl)),
            tally,
            settled,
            hysteresis: self.config.hysteresis,
        };
        let verdict = {
            let mut state = self.state.lock();
            let verdict = decide::decide(&input, &mut state.streak);
            state.verdict = match &verdict {
                Verdict::Keep(why) => Some(why.clone()),
                Verdict::Decide(_) => None,
            };
            verdict
        };
        let Verdict::Decide(proposal) = verdict else {
            return;
        };
        let expected_seq = record.map_or(0, |record| record.seq);
        let decision = Decision {
            epoch,
            seq: expected_seq
                .max(base.map_or(0, |base| base.seq))
                .max(members_seq)
                + 1,
            mode: proposal.mode,
            reason: proposal.reason.clone(),
            held: proposal.held,
            hold_expires_at_ms: proposal.hold_expires_at_ms,
            leader: self.id.clone(),
            votes: tally,
            operator: proposal.operator.clone(),
            decided_at_ms: observation.now_ms,
            mode_since_ms: proposal.mode_since_ms,
            timestamp: rfc3339_of_ms(observation.now_ms),
        };
        let mut publication = Publication::new(&decision, expected_seq);
        publication.consume = proposal.consume.as_deref();
        publication.restore = proposal
            .restore
            .as_ref()
            .map(|(request, ttl)| (request, *ttl));
        // The decision was made from a heartbeat taken at `started`: if the lease may
        // have ended since (a pause), nothing is sent.
        if self.state.lock().leading(Instant::now()).is_none()
            || started.elapsed() >= self.config.effective_command_timeout()
        {
            return;
        }
        match self.call("publish", self.store.publish(&publication)).await {
            Ok(Publish::Published(receivers)) => {
                tracing::info!(
                    instance = %self.id,
                    stamp = %decision.stamp(),
                    mode = %decision.mode,
                    held = decision.held,
                    reason = %decision.reason,
                    receivers,
                    "cluster decision published"
                );
                if self.state.lock().leading(Instant::now()).is_some() {
                    self.offer(decision).await;
                } else {
                    // Written while the lease held, but it may have ended since: the
                    // record, read at the next heartbeat, says what stands.
                    tracing::warn!(instance = %self.id, "cluster lease ran out while publishing; not applying before reading the record");
                }
            }
            Ok(Publish::Refused(refusal)) => {
                if refusal.lost_lease() {
                    tracing::warn!(instance = %self.id, epoch, %refusal, "cluster decision refused by the fence: no longer leading");
                    self.metrics.stale(Stage::Publish);
                    self.state.lock().lose_lease();
                } else {
                    tracing::debug!(instance = %self.id, %refusal, "cluster decision refused; deciding again");
                    self.wake.notify_one();
                }
            }
            Err(error) => {
                tracing::warn!(instance = %self.id, %error, "cluster decision not published (its effect is unknown until the record is read)");
            }
        }
    }

    /// Applies `decision` if it is newer than the last applied; counts an older one once.
    pub(super) async fn offer(&self, decision: Decision) {
        let stamp = decision.stamp();
        {
            let mut state = self.state.lock();
            let applied = state.applied.as_ref().map(Decision::stamp);
            if applied.is_some_and(|applied| applied >= stamp) {
                if applied.is_some_and(|applied| applied > stamp) && state.refused != Some(stamp) {
                    state.refused = Some(stamp);
                    drop(state);
                    tracing::warn!(instance = %self.id, %stamp, applied = ?applied, "stale cluster decision refused");
                    self.metrics.stale(Stage::Apply);
                }
                return;
            }
            state.note_epoch(stamp.epoch);
        }
        self.apply_to_manager(&decision).await;
        self.state.lock().applied = Some(decision.clone());
        tracing::debug!(instance = %self.id, %stamp, mode = %decision.mode, "cluster decision applied");
        self.metrics.decision(decision.mode);
        for observer in &self.observers {
            observer(&decision);
        }
        self.applied.send_replace(Some(decision));
    }

    /// Puts the manager in `decision`'s mode, held or not.
    async fn apply_to_manager(&self, decision: &Decision) {
        let outcome = if decision.held {
            let server_now = self.state.lock().server_now_ms(Instant::now()).unwrap_or(0);
            match decision.hold_remaining(server_now) {
                Some(left) if left.is_zero() => self.manager.set_mode_to(decision.mode).await,
                left => self.manager.hold_mode(decision.mode, left).await,
            }
        } else if self.manager.current_hold().is_some()
            || self.manager.get_current_mode() != decision.mode
        {
            self.manager.set_mode_to(decision.mode).await
        } else {
            Ok(false)
        };
        if let Err(error) = outcome {
            tracing::warn!(instance = %self.id, %error, "the fallback manager refused the cluster decision");
        }
    }

    /// Puts the manager back in the applied decision's mode if something moved it (a
    /// local cascade while the store was unreachable, a direct call on the manager).
    async fn reconcile(&self) {
        let decision = {
            let state = self.state.lock();
            if !state.follows_cluster() {
                return;
            }
            // An operator's request the leader has not decided yet may have been applied
            // here already (made while the store was unreachable): leave it to the
            // decision.
            let undecided = state.operator.as_ref().is_some_and(|request| {
                state
                    .applied
                    .as_ref()
                    .and_then(|applied| applied.operator.as_ref())
                    .is_none_or(|done| done.id != request.id)
            });
            if undecided {
                return;
            }
            state.applied.clone()
        };
        let Some(decision) = decision else { return };
        let held = self.manager.current_hold().is_some();
        let server_now = self.state.lock().server_now_ms(Instant::now()).unwrap_or(0);
        let hold_in_force = decision
            .hold_remaining(server_now)
            .is_none_or(|left| !left.is_zero());
        let hold_ok = held == (decision.held && hold_in_force);
        if self.manager.get_current_mode() != decision.mode || !hold_ok {
            tracing::info!(instance = %self.id, stamp = %decision.stamp(), mode = %decision.mode, "reconciling the manager with the cluster decision");
            self.apply_to_manager(&decision).await;
        }
    }

    /// Frees the lease if this instance holds it.
    pub(super) async fn step_down(&self) {
        let epoch = {
            let mut state = self.state.lock();
            let Role::Leader { epoch, .. } = state.role else {
                return;
            };
            state.lose_lease();
            epoch
        };
        match self
            .call("step_down", self.store.step_down(&self.id, epoch))
            .await
        {
            Ok(true) => tracing::info!(instance = %self.id, epoch, "cluster lease released"),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(instance = %self.id, %error, "cluster lease not released; it expires on its own");
            }
        }
    }

    /// Stores an operator's call made while the store was unreachable.
    async fn deliver_undelivered(&self) {
        let Some(undelivered) = self.state.lock().undelivered.clone() else {
            return;
        };
        let delivered = match &undelivered {
            Undelivered::Request { request, until } => {
                let ttl = until.map(|until| until.saturating_duration_since(Instant::now()));
                if ttl.is_some_and(|ttl| ttl.is_zero()) {
                    Ok(())
                } else {
                    self.call("request", self.store.request(request, ttl)).await
                }
            }
            Undelivered::Release => self
                .call("clear_request", self.store.clear_request())
                .await
                .map(|_| ()),
        };
        match delivered {
            Ok(()) => {
                tracing::info!(instance = %self.id, "operator request made during the outage delivered to the cluster");
                self.state.lock().undelivered = None;
            }
            Err(error) => {
                tracing::debug!(instance = %self.id, %error, "operator request still undelivered");
            }
        }
    }
}

//! The leader's decision rule, free of I/O: from the current decision, the operator's
//! pending request and the vote, what to decide next, if anything.

use std::time::Duration;

use fallback::{FallbackMode, Hysteresis};

use crate::record::{Decision, OverrideRequest, VoteTally};
use crate::util::millis;

/// What the leader knows when it decides.
#[derive(Debug, Clone)]
pub(crate) struct Input<'a> {
    /// Now, on the store's clock (milliseconds since the Unix epoch).
    pub now_ms: u64,
    /// The newest decision known: the record, or the leader's own applied decision when
    /// the record is missing or older (the store lost data).
    pub base: Option<&'a Decision>,
    /// Whether the store lost the record `base` stands for: the leader writes it again.
    pub restore: bool,
    /// The operator's pending request and the time its key has left (`None`: no expiry).
    pub operator: Option<(&'a OverrideRequest, Option<Duration>)>,
    /// The vote of the live members.
    pub tally: VoteTally,
    /// Whether the leader has led long enough for every live member to have voted since
    /// it took the lease (one heartbeat): a store that restarted empty lists only the
    /// members that heartbeated since, and a vote among them is no quorum of the cluster.
    pub settled: bool,
    /// Damping of recoveries.
    pub hysteresis: Option<Hysteresis>,
}

/// The next decision, before the store stamps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proposal {
    pub mode: FallbackMode,
    pub held: bool,
    pub hold_expires_at_ms: Option<u64>,
    pub reason: String,
    pub operator: Option<OverrideRequest>,
    /// A one-shot request the decision carries out, to delete with it.
    pub consume: Option<String>,
    /// A hold request to write back with it (the store lost it), and its time left.
    pub restore: Option<(OverrideRequest, Option<Duration>)>,
    pub mode_since_ms: u64,
}

/// What the leader does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing changes, and why.
    Keep(String),
    /// A new decision.
    Decide(Box<Proposal>),
}

/// Evaluations in a row that called for a healthier mode, and the least healthy mode any
/// of them called for: the leader's hysteresis evidence. It lives in the leader only, so
/// a new leader starts counting afresh (never recovering sooner than the old one would).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Streak {
    count: u32,
    least_healthy: FallbackMode,
}

impl Streak {
    fn extend(&mut self, target: FallbackMode) {
        self.least_healthy = if self.count == 0 {
            target
        } else {
            self.least_healthy.max(target)
        };
        self.count = self.count.saturating_add(1);
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Decides what comes after `input.base`. In order:
///
/// 1. an operator's hold request: the held mode (once per request);
/// 2. an operator's one-shot override: its mode, unheld (once per request);
/// 3. the store lost a held record: the hold is restored, request included;
/// 4. a held base without a request (released or expired): unheld, same mode;
/// 5. the vote, once the leader has settled: without quorum nothing changes; a worse
///    mode at once; a healthier one subject to `hysteresis`, as the manager damps its own;
/// 6. the store lost the record and nothing else changes: the base is written again.
pub(crate) fn decide(input: &Input<'_>, streak: &mut Streak) -> Verdict {
    let verdict = decide_inner(input, streak);
    match (verdict, input.base) {
        (Verdict::Keep(why), Some(base)) if input.restore => Verdict::Decide(Box::new(Proposal {
            reason: format!(
                "carried over {} after the store lost the record ({why})",
                base.stamp()
            ),
            ..carry(base)
        })),
        (verdict, _) => verdict,
    }
}

fn decide_inner(input: &Input<'_>, streak: &mut Streak) -> Verdict {
    let now = input.now_ms;
    let base = input.base;
    if let Some((request, remaining)) = input.operator {
        streak.reset();
        return operator_verdict(base, request, remaining, now);
    }
    if let Some(base) = base.filter(|base| base.held) {
        streak.reset();
        let expired = base.hold_expires_at_ms.is_some_and(|at| at <= now);
        if input.restore
            && !expired
            && let Some(request) = &base.operator
        {
            return Verdict::Decide(Box::new(Proposal {
                reason: format!(
                    "hold restored after the store lost it (from {})",
                    base.stamp()
                ),
                restore: Some((request.clone(), base.hold_remaining(now))),
                ..carry(base)
            }));
        }
        return Verdict::Decide(Box::new(Proposal {
            held: false,
            hold_expires_at_ms: None,
            operator: None,
            reason: if expired {
                "hold expired; the vote decides from now on".to_owned()
            } else {
                "hold released; the vote decides from now on".to_owned()
            },
            ..carry(base)
        }));
    }
    let tally = input.tally;
    if !input.settled {
        streak.reset();
        return Verdict::Keep(format!(
            "{tally}: a new leader waits one heartbeat for every member's vote"
        ));
    }
    let Some(target) = tally.decided() else {
        streak.reset();
        return Verdict::Keep(format!("{tally}: no quorum, nothing changes"));
    };
    let vote_reason = format!("vote: {tally}");
    let Some(base) = base else {
        streak.reset();
        return Verdict::Decide(fresh(target, vote_reason, now));
    };
    if target == base.mode {
        streak.reset();
        return Verdict::Keep(format!("{tally}: {target}, as decided"));
    }
    if target > base.mode {
        streak.reset();
        return Verdict::Decide(fresh(target, vote_reason, now));
    }
    let Some(hysteresis) = input.hysteresis else {
        return Verdict::Decide(fresh(target, vote_reason, now));
    };
    streak.extend(target);
    let needed = hysteresis.get_recovery_evaluations();
    let dwelt = Duration::from_millis(now.saturating_sub(base.mode_since_ms));
    let min_dwell = hysteresis.get_min_dwell();
    if streak.count < needed || dwelt < min_dwell {
        return Verdict::Keep(format!(
            "{tally}: recovery to {target} damped ({} of {needed} evaluations, {:.1}s of {:.1}s in {})",
            streak.count.min(needed),
            dwelt.as_secs_f64(),
            min_dwell.as_secs_f64(),
            base.mode,
        ));
    }
    let allowed = target.max(streak.least_healthy);
    let step = if hysteresis.is_stepwise() {
        allowed.max(base.mode.healthier())
    } else {
        allowed
    };
    streak.reset();
    if step >= base.mode {
        return Verdict::Keep(format!("{tally}: {target}, damped"));
    }
    let mut reason = vote_reason;
    if step != target {
        reason.push_str(if hysteresis.is_stepwise() {
            "; stepwise_recovery(target="
        } else {
            "; damped_recovery(target="
        });
        reason.push_str(target.as_str());
        reason.push(')');
    }
    Verdict::Decide(fresh(step, reason, now))
}

fn operator_verdict(
    base: Option<&Decision>,
    request: &OverrideRequest,
    remaining: Option<Duration>,
    now: u64,
) -> Verdict {
    let carried_out = base
        .and_then(|base| base.operator.as_ref())
        .is_some_and(|done| done.id == request.id);
    if carried_out {
        return Verdict::Keep(format!(
            "{} {} by {} in force ({})",
            if request.hold { "hold" } else { "override" },
            request.mode,
            request.requested_by,
            request.id
        ));
    }
    let mode_since_ms = base
        .filter(|base| base.mode == request.mode)
        .map_or(now, |base| base.mode_since_ms);
    let expires = remaining.map(|left| now.saturating_add(millis(left)));
    Verdict::Decide(Box::new(Proposal {
        mode: request.mode,
        held: request.hold,
        hold_expires_at_ms: if request.hold { expires } else { None },
        reason: format!(
            "{}({}) by {}",
            if request.hold { "hold" } else { "override" },
            request.mode,
            request.requested_by
        ),
        operator: Some(request.clone()),
        consume: (!request.hold).then(|| request.id.clone()),
        restore: None,
        mode_since_ms,
    }))
}

/// `base` decided again, unchanged.
fn carry(base: &Decision) -> Proposal {
    Proposal {
        mode: base.mode,
        held: base.held,
        hold_expires_at_ms: base.hold_expires_at_ms,
        reason: base.reason.clone(),
        operator: base.operator.clone(),
        consume: None,
        restore: None,
        mode_since_ms: base.mode_since_ms,
    }
}

/// A new mode, entered now.
fn fresh(mode: FallbackMode, reason: String, now: u64) -> Box<Proposal> {
    Box::new(Proposal {
        mode,
        held: false,
        hold_expires_at_ms: None,
        reason,
        operator: None,
        consume: None,
        restore: None,
        mode_since_ms: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::rfc3339_of_ms;
    use FallbackMode::{Heuristic, Primary, Safe};

    fn decision(mode: FallbackMode, since: u64) -> Decision {
        Decision {
            epoch: 1,
            seq: 5,
            mode,
            reason: "vote".into(),
            held: false,
            hold_expires_at_ms: None,
            leader: "a".into(),
            votes: VoteTally::default(),
            operator: None,
            decided_at_ms: since,
            mode_since_ms: since,
            timestamp: rfc3339_of_ms(since),
        }
    }

    fn request(id: &str, mode: FallbackMode, hold: bool) -> OverrideRequest {
        OverrideRequest {
            id: id.into(),
            mode,
            hold,
            duration_ms: None,
            requested_by: "ops-box".into(),
            timestamp: String::new(),
        }
    }

    fn input<'a>(base: Option<&'a Decision>, votes: &[FallbackMode], now_ms: u64) -> Input<'a> {
        Input {
            now_ms,
            base,
            restore: false,
            operator: None,
            tally: VoteTally::count(votes.len(), votes.len() / 2 + 1, votes.iter().copied()),
            settled: true,
            hysteresis: None,
        }
    }

    fn decided(verdict: &Verdict) -> Option<(FallbackMode, bool)> {
        match verdict {
            Verdict::Decide(proposal) => Some((proposal.mode, proposal.held)),
            Verdict::Keep(_) => None,
        }
    }

    #[test]
    fn the_vote_decides_by_quorum_and_median() {
        fn check(
            base: Option<FallbackMode>,
            live: usize,
            votes: &[FallbackMode],
            expected: Option<FallbackMode>,
        ) {
            let base = base.map(|mode| decision(mode, 0));
            let mut input = input(base.as_ref(), votes, 10);
            input.tally = VoteTally::count(live, live / 2 + 1, votes.iter().copied());
            let verdict = decide(&input, &mut Streak::default());
            assert_eq!(
                decided(&verdict).map(|(mode, _)| mode),
                expected,
                "{verdict:?}"
            );
        }
        check(None, 3, &[Safe, Safe, Primary], Some(Safe));
        check(None, 3, &[Safe, Heuristic, Primary], Some(Heuristic));
        check(Some(Primary), 3, &[Safe, Safe, Primary], Some(Safe));
        check(Some(Safe), 3, &[Safe, Safe, Primary], None);
        check(Some(Safe), 3, &[Primary, Primary, Safe], Some(Primary));
        // 2 of 5 voted: no quorum, nothing changes.
        check(Some(Primary), 5, &[Safe, Safe], None);
        check(None, 5, &[Safe, Safe], None);
    }

    #[test]
    fn without_quorum_the_status_says_why() {
        let base = decision(Primary, 0);
        let mut input = input(Some(&base), &[Safe, Safe], 10);
        input.tally = VoteTally::count(5, 3, [Safe, Safe]);
        assert_eq!(
            decide(&input, &mut Streak::default()),
            Verdict::Keep(
                "2 of 5 live members voted (quorum 3): safe=2 heuristic=0 primary=0: no quorum, nothing changes"
                    .into()
            )
        );
    }

    #[test]
    fn degradation_is_immediate_and_recovery_is_damped() {
        let hysteresis = Hysteresis::new()
            .min_dwell(Duration::from_secs(10))
            .recovery_evaluations(2);
        let base = decision(Safe, 1_000);
        let mut streak = Streak::default();
        let run = |votes: &[FallbackMode], now: u64, streak: &mut Streak| {
            let mut input = input(Some(&base), votes, now);
            input.hysteresis = Some(hysteresis);
            decide(&input, streak)
        };
        // Healthier, twice, but within the dwell time: kept.
        assert_eq!(decided(&run(&[Primary; 3], 2_000, &mut streak)), None);
        assert_eq!(decided(&run(&[Primary; 3], 3_000, &mut streak)), None);
        // An unhealthy evaluation restarts the count.
        assert_eq!(decided(&run(&[Safe; 3], 20_000, &mut streak)), None);
        assert_eq!(decided(&run(&[Primary; 3], 21_000, &mut streak)), None);
        // Two in a row after the dwell time: no further than the least healthy of them.
        let mut streak = Streak::default();
        assert_eq!(decided(&run(&[Heuristic; 3], 20_000, &mut streak)), None);
        let verdict = run(&[Primary; 3], 21_000, &mut streak);
        assert_eq!(decided(&verdict), Some((Heuristic, false)));
        let Verdict::Decide(proposal) = verdict else {
            unreachable!()
        };
        assert!(
            proposal
                .reason
                .ends_with("; damped_recovery(target=primary)"),
            "{}",
            proposal.reason
        );
        assert_eq!(proposal.mode_since_ms, 21_000);

        // A worse vote wins at once, whatever the hysteresis.
        let primary = decision(Primary, 1_000);
        let mut input = input(Some(&primary), &[Safe; 3], 1_001);
        input.hysteresis = Some(hysteresis);
        assert_eq!(
            decided(&decide(&input, &mut Streak::default())),
            Some((Safe, false))
        );
    }

    #[test]
    fn a_new_leader_decides_by_vote_only_once_settled() {
        let base = decision(Primary, 0);
        let mut input = input(Some(&base), &[Safe], 10);
        input.settled = false;
        let verdict = decide(&input, &mut Streak::default());
        assert!(
            matches!(&verdict, Verdict::Keep(why) if why.ends_with("a new leader waits one heartbeat for every member's vote")),
            "{verdict:?}"
        );
        // An operator's request does not wait.
        let hold = request("r9", Safe, true);
        input.operator = Some((&hold, None));
        assert_eq!(
            decided(&decide(&input, &mut Streak::default())),
            Some((Safe, true))
        );
        // Nor does writing back a lost record.
        input.operator = None;
        input.restore = true;
        assert_eq!(
            decided(&decide(&input, &mut Streak::default())),
            Some((Primary, false))
        );
    }

    #[test]
    fn stepwise_recovery_goes_one_mode_at_a_time() {
        let base = decision(Safe, 0);
        let mut input = input(Some(&base), &[Primary; 3], 5_000);
        input.hysteresis = Some(Hysteresis::new().stepwise(true));
        let verdict = decide(&input, &mut Streak::default());
        assert_eq!(decided(&verdict), Some((Heuristic, false)));
        let Verdict::Decide(proposal) = verdict else {
            unreachable!()
        };
        assert!(
            proposal
                .reason
                .ends_with("stepwise_recovery(target=primary)")
        );
    }

    #[test]
    fn an_operator_hold_wins_over_the_vote_once_per_request() {
        let base = decision(Primary, 0);
        let hold = request("r1", Safe, true);
        let mut input = input(Some(&base), &[Primary; 3], 5_000);
        input.operator = Some((&hold, Some(Duration::from_secs(60))));
        let Verdict::Decide(proposal) = decide(&input, &mut Streak::default()) else {
            panic!("a hold decides")
        };
        assert_eq!((proposal.mode, proposal.held), (Safe, true));
        assert_eq!(proposal.hold_expires_at_ms, Some(65_000));
        assert_eq!(proposal.consume, None);
        assert_eq!(proposal.reason, "hold(safe) by ops-box");

        let mut held = decision(Safe, 5_000);
        held.held = true;
        held.operator = Some(hold.clone());
        input.base = Some(&held);
        assert!(matches!(
            decide(&input, &mut Streak::default()),
            Verdict::Keep(_)
        ));

        // Released (the request is gone): unheld, same mode, until the vote decides.
        input.operator = None;
        let Verdict::Decide(released) = decide(&input, &mut Streak::default()) else {
            panic!("a release decides")
        };
        assert_eq!((released.mode, released.held), (Safe, false));
        assert_eq!(
            released.reason,
            "hold released; the vote decides from now on"
        );
        let mut expired_hold = held.clone();
        expired_hold.hold_expires_at_ms = Some(4_000);
        input.base = Some(&expired_hold);
        let Verdict::Decide(expired) = decide(&input, &mut Streak::default()) else {
            panic!("an expiry decides")
        };
        assert_eq!(expired.reason, "hold expired; the vote decides from now on");
    }

    #[test]
    fn a_one_shot_override_is_consumed() {
        let base = decision(Primary, 0);
        let once = request("r2", Heuristic, false);
        let mut input = input(Some(&base), &[Primary; 3], 5_000);
        input.operator = Some((&once, Some(Duration::from_secs(20))));
        let Verdict::Decide(proposal) = decide(&input, &mut Streak::default()) else {
            panic!("an override decides")
        };
        assert_eq!((proposal.mode, proposal.held), (Heuristic, false));
        assert_eq!(proposal.consume.as_deref(), Some("r2"));
        assert_eq!(proposal.hold_expires_at_ms, None);
    }

    #[test]
    fn a_lost_record_is_written_again_with_its_hold() {
        let hold = request("r3", Safe, true);
        let mut held = decision(Safe, 1_000);
        held.held = true;
        held.hold_expires_at_ms = Some(61_000);
        held.operator = Some(hold.clone());
        let mut lost = input(Some(&held), &[Primary; 3], 11_000);
        lost.restore = true;
        let Verdict::Decide(proposal) = decide(&lost, &mut Streak::default()) else {
            panic!("a lost hold is restored")
        };
        assert_eq!((proposal.mode, proposal.held), (Safe, true));
        assert_eq!(
            proposal.restore,
            Some((hold, Some(Duration::from_secs(50))))
        );

        let base = decision(Heuristic, 1_000);
        let mut input = input(Some(&base), &[Heuristic; 3], 2_000);
        input.restore = true;
        let Verdict::Decide(carried) = decide(&input, &mut Streak::default()) else {
            panic!("a lost record is carried over")
        };
        assert_eq!(carried.mode, Heuristic);
        assert!(
            carried
                .reason
                .starts_with("carried over 1/5 after the store lost the record")
        );
    }
}

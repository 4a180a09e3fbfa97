//! Evaluation allocates nothing, on every path, and numbers cost a context nothing either.
//! `allocation-counter` is this binary's global allocator; it counts per thread, so tests
//! running in parallel do not disturb the count.

use condition::{ConditionParser, Context, parse_condition};

use crate::context;

const LONG: &str = "(severity >= 0.8 and recurrence_count >= 2) or (confidence < 0.3 and step != 4) \
     or (duration > 120 and severity >= 0.95) or (step == 4 and confidence >= 0.5) \
     or (recurrence_count < 10 and duration <= 60)";

/// Counts the heap allocations `run` makes on this thread. The counter's first use on a
/// thread sets it up and misses allocations, so it is used once before.
fn allocations(run: impl FnOnce()) -> (u64, u64) {
    allocation_counter::measure(|| drop(std::hint::black_box(Box::new(1))));
    let counted = allocation_counter::measure(run);
    (counted.count_total, counted.count_max)
}

/// Evaluating `source` against `context(spec)` gives `expected` and allocates nothing.
fn check(source: &str, spec: &str, expected: bool) {
    let condition = parse_condition(source).unwrap();
    let event = context(spec);
    let mut results = Vec::with_capacity(100);
    let (count, _) = allocations(|| {
        for _ in 0..100 {
            results.push(condition.evaluate(&event));
        }
    });
    assert_eq!(count, 0, "{source:?} with {spec:?}");
    assert!(
        results.iter().all(|result| *result == Ok(expected)),
        "{source:?}: {:?}",
        results[0]
    );
}

#[test]
fn evaluation_allocates_nothing() {
    // The counter is really installed: an allocation is seen.
    assert_eq!(
        allocations(|| drop(std::hint::black_box(Box::new(1)))),
        (1, 1)
    );
    // The truth-table path.
    check(
        "severity >= 0.8 and recurrence_count >= 2",
        "severity=0.9 recurrence_count=3",
        true,
    );
    check(
        LONG,
        "severity=0.9 recurrence_count=1 confidence=0.2 step=4 duration=130.0",
        false,
    );
    check("always", "", true);
    // The general path: strings, variables against variables, wide integers, NaN.
    check("step == 'analyze' or step < 'b'", "step='analyze'", true);
    check(
        "severity >= confidence",
        "severity=0.5 confidence=0.5",
        true,
    );
    check(
        "recurrence_count < 99999999999999999999999",
        "recurrence_count=9223372036854775807",
        true,
    );
    check("severity != 0.5", "severity=nan", true);
    check(
        &LONG.replace("0.8", "'x'").replace(">= 'x'", "== 'x'"),
        "severity=0.9 recurrence_count=1 confidence=0.2 step=4 duration=130.0",
        false,
    );
}

#[test]
fn parsing_allocates_a_fixed_few_blocks() {
    for source in [
        "step > 1",
        "severity >= 0.8 and recurrence_count >= 2",
        LONG,
    ] {
        let counted = allocations(|| drop(std::hint::black_box(parse_condition(source))));
        // Kept: the program (behind its `Arc`), the source and the leaves. Freed when
        // parsing ends: the parser's two stacks and the truth table's work set.
        assert_eq!(counted, (6, 5), "{source:?}");
    }
}

#[test]
fn a_context_of_another_whitelist_is_read_without_allocating() {
    let parser = ConditionParser::new()
        .variables(["step", "latency"])
        .unwrap();
    let condition = parser.parse("latency > 100 and step == 'x'").unwrap();
    let event = ConditionParser::new()
        .variables(["latency", "step"])
        .unwrap()
        .context()
        .with("latency", 200)
        .with("step", "x");
    let (count, _) = allocations(|| assert!(condition.evaluate(&event).unwrap()));
    assert_eq!(count, 0);
}

#[test]
fn names_outside_the_whitelist_are_read_without_allocating() {
    let condition = ConditionParser::new()
        .variables(["latency", "step", "region"])
        .unwrap()
        .parse("latency > 100 and step == 4 and region == 'eu'")
        .unwrap();
    // `step` in its default slot, the others kept by name, among unrelated members.
    let event = Context::from_json(&serde_json::json!({
        "latency": 200, "step": 4, "region": "eu", "host": "a1", "tags": [1], "zone": null
    }))
    .unwrap();
    let (count, _) = allocations(|| assert!(condition.evaluate(&event).unwrap()));
    assert_eq!(count, 0);
}

#[test]
fn numbers_cost_a_context_no_allocation() {
    let (count, _) = allocations(|| {
        let mut event = Context::new()
            .with("severity", 0.9)
            .with("recurrence_count", 3_u32);
        event.set("step", -4);
        event.set("duration", u64::MAX);
        event.remove("duration");
        std::hint::black_box(&event);
    });
    assert_eq!(count, 0);
    // A string is stored once, beside the numbers.
    let (count, _) =
        allocations(|| drop(std::hint::black_box(Context::new().with("step", "analyze"))));
    assert_eq!(count, 3, "the Arc<str>, the side table, its slots");
}

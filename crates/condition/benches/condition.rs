//! `condition` against its peers, measured in the same run: `evalexpr` 11 (the last MIT
//! release), `fasteval` (the fastest peer in the research note), and a hand-written Rust
//! function over a struct (the floor).
//!
//! Ids: `condition/{parse,evaluate}/{short,long}/{condition,evalexpr,fasteval,native}` and
//! `condition/bind-evaluate/short/{condition,condition-variable,evalexpr,native}` (build
//! a context from the event's two values, by name or through `Variable`s, then evaluate). SHORT is `severity >= 0.8 and recurrence_count >= 2` (true); LONG is the
//! 49-token rule of ten comparisons in five groups, with values that make the first
//! comparison of every group true and the second false, so even a short-circuiting
//! evaluator performs all ten (false). Peers without `and`/`or` get `&&`/`||`, translated
//! outside the timing. Everything is parsed and bound outside the timing except where the
//! id says otherwise.
#![allow(missing_docs, reason = "criterion generates the entry points")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench aborts on failure"
)]

use std::hint::black_box;

use condition::{Condition, Context, Variable, parse_condition};
use criterion::{Criterion, criterion_group, criterion_main};
use evalexpr::{ContextWithMutableVariables, HashMapContext};

const SHORT: &str = "severity >= 0.8 and recurrence_count >= 2";
const LONG: &str = "(severity >= 0.8 and recurrence_count >= 2) or (confidence < 0.3 and step != 4) \
     or (duration > 120 and severity >= 0.95) or (step == 4 and confidence >= 0.5) \
     or (recurrence_count < 10 and duration <= 60)";

/// One event, as a service would hold it.
#[derive(Clone, Copy)]
struct Event {
    severity: f64,
    recurrence_count: i64,
    confidence: f64,
    step: i64,
    duration: f64,
}

const SHORT_EVENT: Event = Event {
    severity: 0.9,
    recurrence_count: 3,
    confidence: 0.5,
    step: 1,
    duration: 10.0,
};

const LONG_EVENT: Event = Event {
    severity: 0.9,
    recurrence_count: 1,
    confidence: 0.2,
    step: 4,
    duration: 130.0,
};

#[inline]
fn native_short(event: &Event) -> bool {
    event.severity >= 0.8 && event.recurrence_count >= 2
}

#[inline]
fn native_long(event: &Event) -> bool {
    (event.severity >= 0.8 && event.recurrence_count >= 2)
        || (event.confidence < 0.3 && event.step != 4)
        || (event.duration > 120.0 && event.severity >= 0.95)
        || (event.step == 4 && event.confidence >= 0.5)
        || (event.recurrence_count < 10 && event.duration <= 60.0)
}

fn symbolic(source: &str) -> String {
    source.replace(" and ", " && ").replace(" or ", " || ")
}

fn context(event: &Event) -> Context {
    Context::new()
        .with("severity", event.severity)
        .with("recurrence_count", event.recurrence_count)
        .with("confidence", event.confidence)
        .with("step", event.step)
        .with("duration", event.duration)
}

fn evalexpr_context(event: &Event) -> HashMapContext {
    let mut context = HashMapContext::new();
    bind_evalexpr(&mut context, event);
    context
}

fn bind_evalexpr(context: &mut HashMapContext, event: &Event) {
    use evalexpr::Value;
    context
        .set_value("severity".into(), Value::Float(event.severity))
        .unwrap();
    context
        .set_value(
            "recurrence_count".into(),
            Value::Int(event.recurrence_count),
        )
        .unwrap();
    context
        .set_value("confidence".into(), Value::Float(event.confidence))
        .unwrap();
    context
        .set_value("step".into(), Value::Int(event.step))
        .unwrap();
    context
        .set_value("duration".into(), Value::Float(event.duration))
        .unwrap();
}

/// fasteval compiled into its slab, with a callback namespace reading the event.
struct Fasteval {
    slab: fasteval::Slab,
    instruction: fasteval::Instruction,
}

impl Fasteval {
    fn parse(source: &str, slab: &mut fasteval::Slab) -> fasteval::Instruction {
        use fasteval::Compiler;
        let parser = fasteval::Parser::new();
        parser
            .parse(source, &mut slab.ps)
            .unwrap()
            .from(&slab.ps)
            .compile(&slab.ps, &mut slab.cs)
    }

    fn new(source: &str) -> Self {
        let mut slab = fasteval::Slab::new();
        let instruction = Self::parse(source, &mut slab);
        Self { slab, instruction }
    }

    fn evaluate(&self, event: &Event) -> bool {
        use fasteval::Evaler;
        let mut namespace = |name: &str, _args: Vec<f64>| match name {
            "severity" => Some(event.severity),
            "recurrence_count" => Some(event.recurrence_count as f64),
            "confidence" => Some(event.confidence),
            "step" => Some(event.step as f64),
            "duration" => Some(event.duration),
            _ => None,
        };
        self.instruction.eval(&self.slab, &mut namespace).unwrap() != 0.0
    }
}

fn parse_cases(c: &mut Criterion, case: &str, source: &str) {
    let mut group = c.benchmark_group(format!("condition/parse/{case}"));
    group.bench_function("condition", |b| {
        b.iter(|| parse_condition(black_box(source)).unwrap());
    });
    let symbolic = symbolic(source);
    group.bench_function("evalexpr", |b| {
        b.iter(|| evalexpr::build_operator_tree(black_box(&symbolic)).unwrap());
    });
    let mut slab = fasteval::Slab::new();
    group.bench_function("fasteval", |b| {
        b.iter(|| {
            Fasteval::parse(black_box(&symbolic), &mut slab);
        });
    });
    group.finish();
}

fn evaluate_cases(
    c: &mut Criterion,
    case: &str,
    source: &str,
    event: &Event,
    native: fn(&Event) -> bool,
) {
    let condition: Condition = parse_condition(source).unwrap();
    let context = context(event);
    let symbolic = symbolic(source);
    let evalexpr_tree = evalexpr::build_operator_tree(&symbolic).unwrap();
    let evalexpr_context = evalexpr_context(event);
    let fasteval = Fasteval::new(&symbolic);

    // Every peer must agree before any of them is timed.
    let expected = native(event);
    assert_eq!(
        condition.evaluate(&context).unwrap(),
        expected,
        "condition on {case}"
    );
    assert_eq!(
        evalexpr_tree
            .eval_boolean_with_context(&evalexpr_context)
            .unwrap(),
        expected
    );
    assert_eq!(fasteval.evaluate(event), expected, "fasteval on {case}");

    let mut group = c.benchmark_group(format!("condition/evaluate/{case}"));
    group.bench_function("condition", |b| {
        b.iter(|| black_box(&condition).evaluate(black_box(&context)).unwrap());
    });
    group.bench_function("evalexpr", |b| {
        b.iter(|| {
            black_box(&evalexpr_tree)
                .eval_boolean_with_context(black_box(&evalexpr_context))
                .unwrap()
        });
    });
    group.bench_function("fasteval", |b| {
        b.iter(|| black_box(&fasteval).evaluate(black_box(event)));
    });
    group.bench_function("native", |b| b.iter(|| native(black_box(event))));
    group.finish();
}

fn bind_evaluate_short(c: &mut Criterion) {
    let condition = parse_condition(SHORT).unwrap();
    let event = SHORT_EVENT;
    let evalexpr_tree = evalexpr::build_operator_tree(&symbolic(SHORT)).unwrap();
    let mut evalexpr_context = HashMapContext::new();
    let mut group = c.benchmark_group("condition/bind-evaluate/short");
    group.bench_function("condition", |b| {
        b.iter(|| {
            let event = black_box(&event);
            let context = Context::new()
                .with("severity", event.severity)
                .with("recurrence_count", event.recurrence_count);
            condition.evaluate(&context).unwrap()
        });
    });
    group.bench_function("condition-variable", |b| {
        b.iter(|| {
            let event = black_box(&event);
            let mut context = Context::new();
            context.set_variable(&Variable::SEVERITY, event.severity);
            context.set_variable(&Variable::RECURRENCE_COUNT, event.recurrence_count);
            condition.evaluate(&context).unwrap()
        });
    });
    group.bench_function("evalexpr", |b| {
        b.iter(|| {
            let event = black_box(&event);
            use evalexpr::Value;
            evalexpr_context
                .set_value("severity".into(), Value::Float(event.severity))
                .unwrap();
            evalexpr_context
                .set_value(
                    "recurrence_count".into(),
                    Value::Int(event.recurrence_count),
                )
                .unwrap();
            evalexpr_tree
                .eval_boolean_with_context(&evalexpr_context)
                .unwrap()
        });
    });
    group.bench_function("native", |b| {
        b.iter(|| {
            let event = black_box(&event);
            native_short(&Event {
                severity: event.severity,
                recurrence_count: event.recurrence_count,
                ..SHORT_EVENT
            })
        });
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    parse_cases(c, "short", SHORT);
    evaluate_cases(c, "short", SHORT, &SHORT_EVENT, native_short);
    parse_cases(c, "long", LONG);
    evaluate_cases(c, "long", LONG, &LONG_EVENT, native_long);
    bind_evaluate_short(c);
}

criterion_group!(condition_benches, benches);
criterion_main!(condition_benches);

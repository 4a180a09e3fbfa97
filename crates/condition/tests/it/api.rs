//! The public API: canonical form, variables, serde, sharing, contexts, whitelists.

use std::collections::{BTreeMap, HashMap};

use condition::{Condition, ConditionParser, Context, Error, Value, evaluate, parse_condition};
use serde_json::json;

use crate::context;

fn check_display(source: &str, expected: &str) {
    let condition = parse_condition(source).unwrap();
    let displayed = condition.to_string();
    assert_eq!(displayed, expected, "{source:?}");
    // Canonical: printing the reparsed form changes nothing.
    assert_eq!(parse_condition(&displayed).unwrap().to_string(), displayed);
}

#[test]
fn display_is_canonical() {
    check_display("severity>=0.8", "severity >= 0.8");
    check_display(
        "  severity >=\n0.8 and(step<1)or   step==\"x\"  ",
        "severity >= 0.8 and (step < 1) or step == \"x\"",
    );
    check_display("( ( step >= .5 ) )", "((step >= .5))");
    check_display("step == 'a  b'", "step == 'a  b'");
    check_display("1==1and step!=007", "1 == 1 and step != 007");
    check_display(" ALWAYS ", "always");
    assert_eq!(
        format!("{:?}", parse_condition(" step>1").unwrap()),
        "Condition(\" step>1\")"
    );
    assert_eq!(parse_condition(" step>1").unwrap().source(), " step>1");
}

#[test]
fn the_canonical_form_can_outgrow_the_length_limit() {
    // 4096 bytes, the default limit, without a space: printing adds two.
    let source = format!("step=='{}'", "x".repeat(4096 - "step==''".len()));
    let condition = parse_condition(&source).unwrap();
    let canonical = condition.to_string();
    assert_eq!(canonical.len(), 4098);
    assert_eq!(
        parse_condition(&canonical).map(|_| ()),
        Err(Error::TooLong {
            len: 4098,
            max: 4096
        })
    );
    // The source always parses back with the parser that accepted it; the canonical form
    // with one whose limit admits it, to the same canonical form.
    assert_eq!(
        parse_condition(condition.source()).unwrap().to_string(),
        canonical
    );
    let roomier = ConditionParser::new().max_len(canonical.len());
    assert_eq!(roomier.parse(&canonical).unwrap().to_string(), canonical);
}

fn check_variables(source: &str, expected: &[&str]) {
    let condition = parse_condition(source).unwrap();
    assert_eq!(
        condition.variables().collect::<Vec<_>>(),
        expected,
        "{source:?}"
    );
}

#[test]
fn variables_in_order_of_appearance() {
    check_variables("always", &[]);
    check_variables("1 < 2", &[]);
    check_variables("step > 1", &["step"]);
    check_variables("1 < step", &["step"]);
    check_variables(
        "step > 1 and severity > step or confidence == severity",
        &["step", "severity", "confidence"],
    );
    check_variables(
        "duration == recurrence_count",
        &["duration", "recurrence_count"],
    );
}

#[test]
fn serde_is_the_source_text() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Rule {
        name: String,
        when: Condition,
    }
    let rule: Rule = serde_json::from_value(json!({"name": "r", "when": "severity>=0.8"})).unwrap();
    assert!(rule.when.evaluate(&context("severity=0.9")).unwrap());
    assert_eq!(
        serde_json::to_value(&rule).unwrap(),
        json!({"name": "r", "when": "severity>=0.8"})
    );
    let refused = serde_json::from_value::<Rule>(json!({"name": "r", "when": "severity >"}))
        .err()
        .unwrap();
    assert_eq!(
        refused.to_string(),
        "syntax error at byte 10: expected a number, string or variable, found end of input"
    );
    assert!(serde_json::from_value::<Condition>(json!(5)).is_err());
}

#[test]
fn conditions_are_shared_cheaply_and_independent() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Condition>();
    shareable::<Context>();
    shareable::<ConditionParser>();
    shareable::<Error>();
    assert_eq!(size_of::<Condition>(), size_of::<usize>());
    // The original's module-level parser let a second parse change the first condition.
    let first = parse_condition("severity >= 0.8").unwrap();
    let second = parse_condition("severity < 0.1").unwrap();
    let event = context("severity=0.9");
    assert!(first.evaluate(&event).unwrap());
    assert!(!second.evaluate(&event).unwrap());
    assert_eq!(evaluate(&first.clone(), &event), first.evaluate(&event));
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let first = first.clone();
            std::thread::spawn(move || {
                first
                    .evaluate(&Context::new().with("severity", f64::from(i) / 2.0))
                    .unwrap()
            })
        })
        .collect();
    let results: Vec<bool> = threads
        .into_iter()
        .map(|thread| thread.join().unwrap())
        .collect();
    assert_eq!(results, [false, false, true, true]);
}

#[test]
fn contexts_from_pairs_maps_and_json() {
    let expected = "{\"severity\": Float(0.9), \"recurrence_count\": Int(3)}";
    let pairs = Context::from_pairs([
        ("severity", Value::from(0.9)),
        ("recurrence_count", Value::from(3)),
    ]);
    assert_eq!(format!("{pairs:?}"), expected);
    let collected: Context = [("recurrence_count", 3.5), ("severity", 0.9)]
        .into_iter()
        .collect();
    assert_eq!(collected.get("recurrence_count"), Some(Value::Float(3.5)));
    let hash: HashMap<String, Value> = [
        ("severity".to_owned(), Value::from(0.9)),
        ("host".to_owned(), "a".into()),
    ]
    .into();
    let from_hash = Context::from(hash);
    // Whitelisted names first, in whitelist order, then the others by name.
    assert_eq!(from_hash.names().collect::<Vec<_>>(), ["severity", "host"]);
    assert_eq!(from_hash.get("host"), Some(Value::from("a")));
    let btree: BTreeMap<&str, i64> = [("step", 4), ("duration", -1)].into();
    let from_btree = Context::from(btree);
    assert_eq!(
        (
            from_btree.get("step"),
            from_btree.get("duration"),
            from_btree.len()
        ),
        (Some(Value::Int(4)), Some(Value::Int(-1)), 2)
    );

    let json = json!({"severity": 0.9, "recurrence_count": 3, "step": "analyze", "duration": u64::MAX, "host": null, "tags": [1], "zone": "eu"});
    let from_json = Context::from_json(&json).unwrap();
    // Members a context cannot hold, outside the whitelist, are kept as such (and shown).
    assert_eq!(
        format!("{from_json:?}"),
        "{\"severity\": Float(0.9), \"recurrence_count\": Int(3), \"step\": Str(\"analyze\"), \"duration\": UInt(18446744073709551615), \"host\": unsupported null, \"tags\": unsupported an array, \"zone\": Str(\"eu\")}"
    );
    assert_eq!(Context::try_from(&json).map(|context| context.len()), Ok(5));
    assert_eq!(from_json.get("host"), None);
    let refused = |json: serde_json::Value| Context::from_json(&json).unwrap_err().to_string();
    assert_eq!(
        refused(json!({"severity": null})),
        "value of 'severity' is null: a context holds numbers and strings only"
    );
    assert_eq!(
        refused(json!({"step": true})),
        "value of 'step' is a boolean: a context holds numbers and strings only"
    );
    assert_eq!(
        refused(json!({"step": {"a": 1}})),
        "value of 'step' is an object: a context holds numbers and strings only"
    );
    assert_eq!(
        refused(json!([1])),
        "a context is built from a JSON object, found an array"
    );
    assert_eq!(
        refused(json!("x")),
        "a context is built from a JSON object, found a string"
    );
    assert_eq!(
        refused(json!(1)),
        "a context is built from a JSON object, found a number"
    );
}

#[test]
fn contexts_are_updated_in_place() {
    let condition = parse_condition("step == 'a' or step != 1").unwrap();
    let mut event = Context::new();
    assert!(event.is_empty());
    assert!(event.set("step", "a"));
    assert!(!event.set("host", "x"), "not whitelisted: kept by name");
    assert_eq!(event.get("host"), Some(Value::from("x")));
    assert_eq!(event.remove("host"), Some(Value::from("x")));
    assert!(condition.evaluate(&event).unwrap());
    assert!(event.set("step", 1));
    assert_eq!(event.get("step"), Some(Value::Int(1)));
    assert!(!condition.evaluate(&event).unwrap());
    assert!(event.set("step", "b"));
    assert!(condition.evaluate(&event).unwrap());
    let ordered = parse_condition("step == 'a' or step > 1").unwrap();
    assert_eq!(
        ordered.evaluate(&event),
        Err(Error::TypeMismatch {
            offset: 15,
            op: condition::Operator::Gt,
            left: condition::ValueKind::String,
            right: condition::ValueKind::Number,
        })
    );
    assert_eq!(event.remove("step"), Some(Value::from("b")));
    assert_eq!(event.remove("step"), None);
    assert_eq!(
        condition.evaluate(&event).unwrap_err().to_string(),
        "variable 'step' not provided in context"
    );
    event.extend([("step", 0.5), ("severity", 1.0)]);
    assert_eq!(event.len(), 2);
    assert!(condition.evaluate(&event).unwrap());
    event.clear();
    assert!(event.is_empty());
    assert_eq!(event.get("severity"), None);
    // Every kind of value reads back as given.
    for value in [
        Value::Int(-3),
        Value::Int(i64::MIN),
        Value::UInt(u64::MAX),
        Value::Float(-0.0),
        Value::Float(1e300),
        Value::from(""),
    ] {
        assert!(event.set("duration", value.clone()));
        assert_eq!(event.get("duration"), Some(value));
    }
    assert!(event.set("duration", f64::NAN));
    assert!(matches!(event.get("duration"), Some(Value::Float(nan)) if nan.is_nan()));
}

#[test]
fn variables_resolved_once() {
    use condition::Variable;
    let mut event = Context::new();
    for (variable, name) in [
        (Variable::SEVERITY, "severity"),
        (Variable::RECURRENCE_COUNT, "recurrence_count"),
        (Variable::CONFIDENCE, "confidence"),
        (Variable::STEP, "step"),
        (Variable::DURATION, "duration"),
    ] {
        assert_eq!(variable.name(), name);
        assert_eq!(
            ConditionParser::new().variable(name),
            Some(variable.clone())
        );
        assert!(event.set_variable(&variable, 1));
        assert_eq!(event.get(name), Some(Value::Int(1)));
    }
    assert_eq!(ConditionParser::new().variable("host"), None);
    assert_eq!(format!("{:?}", Variable::STEP), "Variable(\"step\")");
    // A variable of another whitelist is set by its name: into the slot of the same name
    // (`true`), or kept by name (`false`).
    let parser = ConditionParser::new().variables(["step", "zone"]).unwrap();
    let step = parser.variable("step").unwrap();
    assert_ne!(step, Variable::STEP);
    assert!(event.set_variable(&step, 2));
    assert_eq!(event.get("step"), Some(Value::Int(2)));
    assert!(!event.set_variable(&parser.variable("zone").unwrap(), "eu"));
    assert_eq!(event.get("zone"), Some(Value::from("eu")));
    assert!(parser.context().set_variable(&Variable::STEP, 2));
    let mut custom = parser.context();
    assert!(custom.set_variable(&step, "x"));
    assert!(
        parser
            .parse("step == 'x'")
            .unwrap()
            .evaluate(&custom)
            .unwrap()
    );
}

/// A context keeps every name it is given, so a condition of a custom whitelist reads
/// contexts built without its parser, from pairs, maps, JSON or `set`.
#[test]
fn contexts_keep_names_outside_their_whitelist() {
    let condition = ConditionParser::new()
        .variables(["latency_ms", "region"])
        .unwrap()
        .parse("latency_ms > 250 and region == 'eu'")
        .unwrap(); // the parser is gone
    let pairs = [("latency_ms", Value::from(300)), ("region", "eu".into())];
    let hash: HashMap<&str, Value> = pairs.clone().into();
    let btree: BTreeMap<&str, Value> = pairs.clone().into();
    let json = json!({"latency_ms": 300, "region": "eu", "severity": 0.2, "tags": ["a"]});
    let contexts = [
        Context::from_pairs(pairs.clone()),
        pairs.clone().into_iter().collect(),
        Context::from(hash),
        Context::from(btree),
        Context::from_json(&json).unwrap(),
        Context::new().with("latency_ms", 300).with("region", "eu"),
        condition
            .context()
            .with("latency_ms", 300)
            .with("region", "eu"),
    ];
    for context in &contexts {
        assert_eq!(condition.evaluate(context), Ok(true), "{context:?}");
        assert_eq!(context.get("latency_ms"), Some(Value::Int(300)));
    }
    assert!(
        !condition
            .evaluate(&contexts[0].clone().with("region", "us"))
            .unwrap()
    );
    // Later values win, in bulk too.
    let rewritten = Context::from_pairs([
        ("region", Value::from("us")),
        ("latency_ms", 300.into()),
        ("region", "eu".into()),
    ]);
    assert_eq!(rewritten.len(), 2);
    assert!(condition.evaluate(&rewritten).unwrap());
    let mut extended = rewritten;
    extended.extend([("region", "us")]);
    assert!(!condition.evaluate(&extended).unwrap());
    // Missing is still missing; a member the context cannot hold says what it is.
    assert_eq!(
        condition
            .evaluate(&Context::new().with("latency_ms", 300))
            .unwrap_err()
            .to_string(),
        "variable 'region' not provided in context"
    );
    let null = Context::from_json(&json!({"latency_ms": 300, "region": null})).unwrap();
    assert_eq!(
        condition.evaluate(&null).unwrap_err().to_string(),
        "value of 'region' is null: a context holds numbers and strings only"
    );
    // Kept names are removed and cleared like the others.
    let mut event = contexts[0].clone();
    assert_eq!(event.remove("region"), Some(Value::from("eu")));
    assert_eq!(event.names().collect::<Vec<_>>(), ["latency_ms"]);
    event.clear();
    assert!(event.is_empty());
    assert!(condition.evaluate(&event).is_err());
}

#[test]
fn custom_whitelists() {
    let parser = ConditionParser::new()
        .variables(["latency_ms", "status", "region"])
        .unwrap();
    assert_eq!(
        parser.allowed_variables().collect::<Vec<_>>(),
        ["latency_ms", "status", "region"]
    );
    let slow = parser.parse("latency_ms > 250 and region == 'eu'").unwrap();
    assert!(
        slow.evaluate(
            &parser
                .context()
                .with("latency_ms", 300)
                .with("region", "eu")
        )
        .unwrap()
    );
    assert!(
        !slow
            .evaluate(
                &parser
                    .context()
                    .with("latency_ms", 200)
                    .with("region", "eu")
            )
            .unwrap()
    );
    assert_eq!(
        parser.parse("severity > 1").unwrap_err().to_string(),
        "variable 'severity' at byte 0 is not allowed; allowed: latency_ms, region, status"
    );
    // A clone shares the whitelist; a context of another whitelist is read by name.
    let clone = parser.clone();
    assert!(
        slow.evaluate(&clone.context().with("latency_ms", 300).with("region", "eu"))
            .unwrap()
    );
    let other = ConditionParser::new()
        .variables(["region", "latency_ms"])
        .unwrap();
    assert!(
        slow.evaluate(&other.context().with("latency_ms", 300).with("region", "eu"))
            .unwrap()
    );
    assert_eq!(
        slow.evaluate(&Context::new()).unwrap_err().to_string(),
        "variable 'latency_ms' not provided in context"
    );
    let default = parse_condition("step > 1").unwrap();
    let with_step = ConditionParser::new().variables(["step"]).unwrap();
    assert!(
        default
            .evaluate(&with_step.context().with("step", 2))
            .unwrap()
    );
    assert!(default.evaluate(&parser.context()).is_err());
    // More variables than are stored inline.
    let names: Vec<String> = (0..64).map(|i| format!("v{i}")).collect();
    let wide = ConditionParser::new().variables(&names).unwrap();
    let condition = wide
        .parse("v0 < 1 and v63 > 1 and v9 == 'x' and v10 == v11")
        .unwrap();
    let mut event = wide.context();
    event.extend([
        ("v0", Value::from(0)),
        ("v63", 2.into()),
        ("v9", "x".into()),
        ("v10", 5.into()),
        ("v11", 5.0.into()),
    ]);
    assert!(condition.evaluate(&event).unwrap());
    event.set("v63", 1);
    assert!(!condition.evaluate(&event).unwrap());
    assert_eq!(event.get("v9"), Some(Value::from("x")));
    assert!(format!("{wide:?}").starts_with("ConditionParser { variables: [\"v0\", \"v1\""));
}

//! Properties on random input, checked against the reference implementations: parsing
//! never panics and agrees with the original on what is valid; evaluation agrees with an
//! AST interpreter and with the original; the canonical form round-trips; the token limit
//! holds exactly at its edge. And an exhaustive check of every short token sequence.

use condition::{Condition, ConditionParser, Context, Error, Value};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use crate::reference::{self, RefContext, RefError, RefValue, VARIABLES};

// ----- Random conditions -----------------------------------------------------------------

#[derive(Debug, Clone)]
enum Operand {
    Var(&'static str),
    /// A number literal as written.
    Num(String),
    /// A string literal's content and its quote.
    Str(String, char),
}

#[derive(Debug, Clone)]
enum Ast {
    Compare(Operand, &'static str, Operand),
    And(Box<Self>, Box<Self>),
    Or(Box<Self>, Box<Self>),
    /// Redundant parentheses.
    Group(Box<Self>),
}

const OPERATORS: [&str; 6] = [">=", "<=", ">", "<", "==", "!="];

fn number_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "0",
            "1",
            "2",
            "007",
            "0.5",
            ".5",
            "5.",
            "0.8",
            "0.0",
            "120",
            "9007199254740992",
            "9007199254740993",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999999",
            "9007199254740992.0",
        ])
        .prop_map(str::to_owned),
        any::<u32>().prop_map(|int| int.to_string()),
        (0.0..1000.0_f64)
            .prop_map(|float| format!("{float}"))
            .prop_map(|text| {
                if text.contains('.') {
                    text
                } else {
                    format!("{text}.0")
                }
            }),
        any::<f64>().prop_filter_map("finite, non-negative", |float| {
            (float.is_finite() && float.is_sign_positive()).then(|| {
                let text = format!("{float}");
                if text.contains('.') {
                    text
                } else {
                    format!("{text}.0")
                }
            })
        }),
    ]
}

fn string_literal() -> impl Strategy<Value = (String, char)> {
    (
        prop::sample::select(vec!["", "a", "b", "ab", "é", "x y", "0.5"]),
        prop::bool::ANY,
    )
        .prop_map(|(text, double)| (text.to_owned(), if double { '"' } else { '\'' }))
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        3 => prop::sample::select(VARIABLES.to_vec()).prop_map(Operand::Var),
        2 => number_literal().prop_map(Operand::Num),
        1 => string_literal().prop_map(|(text, quote)| Operand::Str(text, quote)),
    ]
}

fn is_literal(operand: &Operand) -> bool {
    !matches!(operand, Operand::Var(_))
}

fn comparison() -> impl Strategy<Value = Ast> {
    (
        operand(),
        prop::sample::select(OPERATORS.to_vec()),
        operand(),
    )
        .prop_map(|(left, op, right)| {
            // Ordering two literals of different kinds is refused when parsing; keep the
            // generated conditions valid by making such a pair an equality.
            let mixed = matches!(
                (&left, &right),
                (Operand::Num(_), Operand::Str(..)) | (Operand::Str(..), Operand::Num(_))
            );
            let op =
                if mixed && is_literal(&left) && is_literal(&right) && !matches!(op, "==" | "!=") {
                    "=="
                } else {
                    op
                };
            Ast::Compare(left, op, right)
        })
}

fn ast() -> impl Strategy<Value = Ast> {
    comparison().prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone())
                .prop_map(|(left, right)| Ast::And(Box::new(left), Box::new(right))),
            (inner.clone(), inner.clone())
                .prop_map(|(left, right)| Ast::Or(Box::new(left), Box::new(right))),
            inner.prop_map(|ast| Ast::Group(Box::new(ast))),
        ]
    })
}

/// Writes `ast` as source text, with `space` between tokens (parentheses where `or` sits
/// under `and`).
fn render(ast: &Ast, space: &str) -> String {
    let operand = |operand: &Operand| match operand {
        Operand::Var(name) => (*name).to_owned(),
        Operand::Num(text) => text.clone(),
        Operand::Str(text, quote) => format!("{quote}{text}{quote}"),
    };
    let grouped = |ast: &Ast| match ast {
        Ast::Or(..) => format!("({})", render(ast, space)),
        _ => render(ast, space),
    };
    match ast {
        Ast::Compare(left, op, right) => {
            format!("{}{space}{op}{space}{}", operand(left), operand(right))
        }
        Ast::And(left, right) => format!("{}{space}and {}", grouped(left), grouped(right)),
        Ast::Or(left, right) => {
            format!("{}{space}or {}", render(left, space), render(right, space))
        }
        Ast::Group(inner) => format!("({space}{}{space})", render(inner, space)),
    }
}

fn source() -> impl Strategy<Value = String> {
    (ast(), prop::sample::select(vec![" ", "  ", "\n", " \t"]))
        .prop_map(|(ast, space)| render(&ast, space))
}

// ----- Random contexts -------------------------------------------------------------------

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => prop::sample::select(vec![
            Value::Int(0), Value::Int(1), Value::Int(2), Value::Int(-1), Value::Int(120), Value::Int(i64::MAX), Value::Int(i64::MIN),
            Value::Int(9_007_199_254_740_993), Value::UInt(u64::MAX), Value::UInt(9_223_372_036_854_775_808),
            Value::Float(0.5), Value::Float(0.8), Value::Float(-0.0), Value::Float(f64::NAN), Value::Float(f64::INFINITY),
            Value::Float(f64::NEG_INFINITY), Value::Float(9_007_199_254_740_992.0), Value::Float(1e23),
            Value::from("a"), Value::from("b"), Value::from(""), Value::from("é"),
        ]),
        1 => any::<i64>().prop_map(Value::Int),
        1 => any::<f64>().prop_map(Value::Float),
        1 => (0_i64..200).prop_map(Value::Int),
        1 => (0.0..2.0_f64).prop_map(Value::Float),
    ]
}

/// One value or none per default variable.
fn values() -> impl Strategy<Value = Vec<Option<Value>>> {
    prop::collection::vec(prop::option::weighted(0.9, value()), VARIABLES.len())
}

fn contexts(values: &[Option<Value>]) -> (Context, RefContext) {
    let mut context = Context::new();
    let mut reference = RefContext::new();
    for (name, value) in VARIABLES.iter().zip(values) {
        let Some(value) = value else { continue };
        context.set(name, value.clone());
        let value = match value {
            Value::Int(int) => RefValue::Int(i128::from(*int)),
            Value::UInt(uint) => RefValue::Int(i128::from(*uint)),
            Value::Float(float) => RefValue::Float(*float),
            Value::Str(text) => RefValue::Str(text.to_string()),
            other => panic!("{other:?}"),
        };
        reference.insert((*name).to_owned(), value);
    }
    (context, reference)
}

// ----- The AST interpreter ---------------------------------------------------------------

/// Python's semantics on the tree: every comparison is evaluated, left to right (no
/// short-circuit), and the first failure is the result.
fn interpret(ast: &Ast, context: &RefContext) -> Result<bool, RefError> {
    match ast {
        Ast::Compare(left, op, right) => {
            let value = |operand: &Operand| match operand {
                Operand::Var(name) => context
                    .get(*name)
                    .cloned()
                    .ok_or_else(|| RefError::Missing((*name).to_owned())),
                Operand::Num(text) => Ok(reference::literal(text)),
                Operand::Str(text, _) => Ok(RefValue::Str(text.clone())),
            };
            let left = value(left)?;
            let right = value(right)?;
            reference::compare_values(&left, op, &right)
        }
        Ast::And(left, right) => {
            let left = interpret(left, context)?;
            Ok(interpret(right, context)? && left)
        }
        Ast::Or(left, right) => {
            let left = interpret(left, context)?;
            Ok(interpret(right, context)? || left)
        }
        Ast::Group(inner) => interpret(inner, context),
    }
}

/// The crate's outcome by class, to compare with the references.
fn classify(result: Result<bool, Error>) -> Result<bool, RefError> {
    result.map_err(|error| match error {
        Error::MissingVariable { name } => RefError::Missing(name),
        Error::TypeMismatch { .. } => RefError::Type,
        other => panic!("unexpected evaluation error {other:?}"),
    })
}

fn unlimited() -> ConditionParser {
    ConditionParser::new()
        .max_tokens(usize::MAX)
        .max_depth(usize::MAX)
        .max_len(usize::MAX)
}

// ----- Arbitrary text --------------------------------------------------------------------

/// Text from fragments of the language and of its neighbours, mostly near-valid.
fn fragments() -> impl Strategy<Value = String> {
    let fragment = prop::sample::select(vec![
        "severity",
        "step",
        "confidence",
        "recurrence_count",
        "duration",
        "x",
        "_x",
        "and",
        "or",
        "AND",
        "always",
        "(",
        ")",
        ">=",
        "<=",
        ">",
        "<",
        "==",
        "!=",
        "=",
        "!",
        "<>",
        "0",
        "0.5",
        ".5",
        "5.",
        "1.2.3",
        "99999999999999999999999",
        "'a'",
        "\"b\"",
        "'",
        "\"",
        " ",
        " ",
        " ",
        "\t",
        "\n",
        "-",
        "@",
        "é",
        "٣",
        "\u{a0}",
        "and_x",
        "1and",
    ]);
    prop::collection::vec(fragment, 0..24).prop_map(|parts| parts.concat())
}

/// The crate's parse result agrees with the original's syntax check on ASCII text, and
/// errors point inside the text.
fn check_parse(text: &str, values: &[Option<Value>]) {
    let parsed = condition::parse_condition(text);
    if let Err(error) = &parsed {
        // Every error about the text says where, but the two limits on its whole size.
        match error.offset() {
            Some(offset) => assert!(
                offset <= text.len() && text.is_char_boundary(offset),
                "{text:?}: {error:?}"
            ),
            None => assert!(
                matches!(error, Error::TooLong { .. } | Error::TooComplex { .. }),
                "{text:?}: {error:?} has no offset"
            ),
        }
    }
    if !text.is_ascii() {
        return;
    }
    let expected = reference::check_syntax(text, ConditionParser::DEFAULT_MAX_TOKENS);
    match (&parsed, &expected) {
        (Ok(condition), Ok(())) => {
            let (context, reference_context) = contexts(values);
            let expected = reference::evaluate(
                text,
                &reference_context,
                ConditionParser::DEFAULT_MAX_TOKENS,
            );
            assert_eq!(
                classify(condition.evaluate(&context)),
                expected,
                "{text:?} with {values:?}"
            );
        }
        (Err(Error::TypeMismatch { .. }), Ok(())) => {
            // Two literals ordered across kinds: the original fails on every evaluation.
            let everything = vec![Some(Value::Int(0)); VARIABLES.len()];
            let (_, reference_context) = contexts(&everything);
            let outcome = reference::evaluate(
                text,
                &reference_context,
                ConditionParser::DEFAULT_MAX_TOKENS,
            );
            assert_eq!(outcome, Err(RefError::Type), "{text:?}");
        }
        (Err(Error::Empty { .. } | Error::Syntax { .. }), Err(RefError::Syntax)) => {}
        (Err(Error::TooComplex { tokens, .. }), Err(RefError::TooComplex(count))) => {
            assert_eq!(tokens, count, "{text:?}");
        }
        (
            Err(
                Error::UnexpectedChar { offset, .. }
                | Error::InvalidOperator { offset, .. }
                | Error::UnterminatedString { offset, .. }
                | Error::UnknownVariable { offset, .. },
            ),
            Err(RefError::Lex(at)),
        ) => assert_eq!(offset, at, "{text:?}"),
        _ => panic!("{text:?}: crate {parsed:?}, original {expected:?}"),
    }
}

/// Two outcomes agree, errors compared by kind and variable (offsets differ between a
/// source and its canonical form).
fn same_outcome(left: &Result<bool, Error>, right: &Result<bool, Error>) -> bool {
    match (left, right) {
        (Ok(left), Ok(right)) => left == right,
        (
            Err(Error::MissingVariable { name: left }),
            Err(Error::MissingVariable { name: right }),
        ) => left == right,
        (Err(Error::TypeMismatch { op: left, .. }), Err(Error::TypeMismatch { op: right, .. })) => {
            left == right
        }
        _ => false,
    }
}

proptest! {
    // Failures are kept in the crate's `proptest-regressions/` (tests run in the crate's
    // directory), whatever the test file's path.
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("proptest-regressions/properties.txt"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn parsing_never_panics(text in any::<String>()) {
        let _ = condition::parse_condition(&text);
        let _ = unlimited().parse(&text);
    }

    #[test]
    fn parsing_agrees_with_the_original(text in fragments(), values in values()) {
        check_parse(&text, &values);
    }

    #[test]
    fn evaluation_agrees_with_the_references(ast in ast(), space in prop::sample::select(vec![" ", "\n"]), values in values()) {
        let text = render(&ast, space);
        let condition = unlimited().parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        let (context, reference_context) = contexts(&values);
        let actual = classify(condition.evaluate(&context));
        prop_assert_eq!(&actual, &interpret(&ast, &reference_context), "{:?} with {:?}", text, values);
        prop_assert_eq!(&actual, &reference::evaluate(&text, &reference_context, usize::MAX), "{:?}", text);
        // A context of another whitelist with the same names takes the general path.
        let shuffled = ConditionParser::new().variables(VARIABLES.iter().rev()).unwrap();
        let mut general = shuffled.context();
        for (name, value) in VARIABLES.iter().zip(&values) {
            if let Some(value) = value {
                general.set(name, value.clone());
            }
        }
        prop_assert_eq!(&classify(condition.evaluate(&general)), &actual, "{:?} (general path)", text);
    }

    #[test]
    fn the_canonical_form_round_trips(text in source(), values in prop::collection::vec(values(), 4)) {
        let condition = unlimited().parse(&text).unwrap();
        let canonical = condition.to_string();
        let reparsed: Condition = unlimited().parse(&canonical).unwrap();
        prop_assert_eq!(reparsed.to_string(), canonical.as_str());
        for values in &values {
            let (context, _) = contexts(values);
            let (before, after) = (condition.evaluate(&context), reparsed.evaluate(&context));
            prop_assert!(same_outcome(&before, &after), "{:?} -> {:?}: {:?} vs {:?}", text, canonical, before, after);
        }
    }

    #[test]
    fn the_token_limit_holds_at_its_edge(text in source()) {
        let tokens = reference::token_count(&text).unwrap();
        let parser = unlimited().max_tokens(tokens);
        prop_assert!(parser.parse(&text).is_ok());
        let refused = unlimited().max_tokens(tokens - 1).parse(&text).map(|_| ());
        prop_assert_eq!(refused, Err(Error::TooComplex { tokens, max: tokens - 1 }));
        // The default limit: at most 49 written tokens.
        prop_assert_eq!(condition::parse_condition(&text).is_ok(), tokens <= 50 && text.len() <= 4096);
    }
}

/// Every sequence of up to five tokens from a small alphabet, against the original, on
/// a few contexts: cheap completeness that random testing cannot promise.
#[test]
fn every_short_token_sequence_agrees_with_the_original() {
    let alphabet = [
        "severity", "step", "0.5", "2", "'a'", ">=", "<", "==", "!=", "and", "or", "(", ")", "x",
    ];
    let contexts = [
        vec![
            Some(Value::Float(0.5)),
            None,
            None,
            Some(Value::Int(2)),
            None,
        ],
        vec![
            Some(Value::from("a")),
            None,
            None,
            Some(Value::Float(f64::NAN)),
            None,
        ],
        vec![Some(Value::Int(3)), None, None, None, None],
    ];
    let mut sequence = Vec::new();
    let mut checked = 0;
    for length in 1..=5_u32 {
        for mut code in 0..alphabet.len().pow(length) {
            sequence.clear();
            for _ in 0..length {
                sequence.push(alphabet[code % alphabet.len()]);
                code /= alphabet.len();
            }
            let text = sequence.join(" ");
            // Five tokens are 540,000 sequences: one context for them keeps this quick.
            let used = if length < 5 {
                &contexts[..]
            } else {
                &contexts[..1]
            };
            for values in used {
                check_parse(&text, values);
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        (1..=5).map(|length| 14_usize.pow(length)).sum::<usize>()
    );
}

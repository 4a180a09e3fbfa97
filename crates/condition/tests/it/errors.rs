//! Parse errors, each with its offset, what was expected and what was found; the limits.

use condition::{ConditionParser, Error, Expected, Found, Operator, ValueKind, parse_condition};

fn token(text: &str) -> Found {
    Found::Token(text.to_owned())
}

const ALLOWED: &str = "confidence, duration, recurrence_count, severity, step";

fn unknown(offset: usize, name: &str) -> Error {
    Error::UnknownVariable {
        offset,
        name: name.to_owned(),
        allowed: ALLOWED.to_owned(),
    }
}

fn non_ascii(offset: usize, name: &str) -> Error {
    Error::NonAsciiName {
        offset,
        name: name.to_owned(),
    }
}

fn syntax(offset: usize, expected: Expected, found: Found) -> Error {
    Error::Syntax {
        offset,
        expected,
        found,
    }
}

/// Parses `source` with `parser` and compares the error.
fn check_with(parser: &ConditionParser, source: &str, expected: &Error) {
    let actual = parser.parse(source).expect_err(source);
    assert_eq!(&actual, expected, "{source:?}");
    if let Some(offset) = actual.offset() {
        assert!(
            source.is_char_boundary(offset) && offset <= source.len(),
            "{source:?}: offset {offset}"
        );
    }
}

fn check(source: &str, expected: &Error) {
    check_with(&ConditionParser::new(), source, expected);
}

#[test]
fn lexical_errors() {
    check(
        "severity @@ 0.8",
        &Error::UnexpectedChar {
            offset: 9,
            found: '@',
        },
    );
    check(
        "severity >= 0.8 &&",
        &Error::UnexpectedChar {
            offset: 16,
            found: '&',
        },
    );
    check(
        "severity >= 0.8 & é",
        &Error::UnexpectedChar {
            offset: 16,
            found: '&',
        },
    );
    // A name is read whole, non-ASCII letters and digits included, and refused as such.
    check("sévérité >= 1", &non_ascii(0, "sévérité"));
    check("severity >= 1 and étape2 < 2", &non_ascii(18, "étape2"));
    check("step > 1 andé step < 2", &non_ascii(9, "andé"));
    check("日本 == 'x'", &non_ascii(0, "日本"));
    check("s_é_1 == 'x'", &non_ascii(0, "s_é_1"));
    check(
        "step >= 1 ∧ step < 2",
        &Error::UnexpectedChar {
            offset: 10,
            found: '∧',
        },
    );
    check(
        "severity = 0.8",
        &Error::InvalidOperator {
            offset: 9,
            found: '=',
        },
    );
    check(
        "severity =< 0.8",
        &Error::InvalidOperator {
            offset: 9,
            found: '=',
        },
    );
    check(
        "!severity",
        &Error::InvalidOperator {
            offset: 0,
            found: '!',
        },
    );
    check(
        "severity >= \"0.8",
        &Error::UnterminatedString {
            offset: 12,
            quote: '"',
        },
    );
    check(
        "step == 'it\"s",
        &Error::UnterminatedString {
            offset: 8,
            quote: '\'',
        },
    );
    check("malicious_var >= 0.5", &unknown(0, "malicious_var"));
    check("severity >= 1 and Severity < 2", &unknown(18, "Severity"));
    check(
        "severity.__class__",
        &Error::UnexpectedChar {
            offset: 8,
            found: '.',
        },
    );
}

#[test]
fn syntax_errors() {
    use Expected::{CloseParen, Comparison, End, Operand, Operator as Op};
    // Where a comparison was expected: the end of the (blank) input.
    check("", &Error::Empty { offset: 0 });
    check(" \t\n", &Error::Empty { offset: 3 });
    check("severity 0.8", &syntax(9, Op, token("0.8")));
    check("severity", &syntax(8, Op, Found::EndOfInput));
    check("severity >=", &syntax(11, Operand, Found::EndOfInput));
    check("severity >= (", &syntax(12, Operand, token("(")));
    check("severity >= and", &syntax(12, Operand, token("and")));
    check("and", &syntax(0, Comparison, token("and")));
    check(
        "severity >= 1 and",
        &syntax(17, Comparison, Found::EndOfInput),
    );
    check(
        "severity >= 1 or or step > 1",
        &syntax(17, Comparison, token("or")),
    );
    check("()", &syntax(1, Comparison, token(")")));
    check(">= 1", &syntax(0, Comparison, token(">=")));
    check(
        "(severity >= 0.8",
        &syntax(16, CloseParen { open: 0 }, Found::EndOfInput),
    );
    check(
        "((severity >= 0.8) and (step < 1)",
        &syntax(33, CloseParen { open: 0 }, Found::EndOfInput),
    );
    check(
        "(severity >= 0.8 step < 1)",
        &syntax(17, CloseParen { open: 0 }, token("step")),
    );
    check("severity >= 0.8)", &syntax(15, End, token(")")));
    check("(severity >= 0.8))", &syntax(17, End, token(")")));
    check("severity >= 0.8 2", &syntax(16, End, token("2")));
    check("severity >= 0.8 >= 1", &syntax(16, End, token(">=")));
    check("severity >= 0.8 (step > 1)", &syntax(16, End, token("(")));
    check("(severity) >= 0.8", &syntax(9, Op, token(")")));
    check(
        "1 < 'a'",
        &Error::TypeMismatch {
            offset: 0,
            op: Operator::Lt,
            left: ValueKind::Number,
            right: ValueKind::String,
        },
    );
    check(
        "step > 1 and ('b' >= 2)",
        &Error::TypeMismatch {
            offset: 14,
            op: Operator::Ge,
            left: ValueKind::String,
            right: ValueKind::Number,
        },
    );
}

#[test]
fn messages_name_what_was_expected_and_found() {
    let message = |source: &str| parse_condition(source).unwrap_err().to_string();
    assert_eq!(
        message("severity 0.8"),
        "syntax error at byte 9: expected a comparison operator (>=, <=, >, <, ==, !=), found \"0.8\""
    );
    assert_eq!(
        message("(severity >= 0.8"),
        "syntax error at byte 16: expected ')' to close the '(' at byte 0, found end of input"
    );
    assert_eq!(
        message("severity >= 0.8)"),
        "syntax error at byte 15: expected 'and', 'or' or the end of the condition, found \")\""
    );
    assert_eq!(
        message("and"),
        "syntax error at byte 0: expected a comparison (a number, string, variable or '('), found \"and\""
    );
    assert_eq!(
        message("step >= "),
        "syntax error at byte 8: expected a number, string or variable, found end of input"
    );
    assert_eq!(
        message(""),
        "empty condition at byte 0: expected a comparison or 'always'"
    );
    assert_eq!(
        message("   "),
        "empty condition at byte 3: expected a comparison or 'always'"
    );
    assert_eq!(
        message("sévérité >= 1"),
        "variable 'sévérité' at byte 0 is not allowed: only ASCII names are accepted (letters, digits and '_')"
    );
    assert_eq!(
        message("severity = 0.8"),
        "invalid operator '=' at byte 9: use >=, <=, >, <, ==, or !="
    );
    // A long token is cut in the message.
    let long = format!("step == 1 '{}'", "x".repeat(100));
    assert_eq!(
        message(&long),
        format!(
            "syntax error at byte 10: expected 'and', 'or' or the end of the condition, found \"'{}\"...",
            "x".repeat(39)
        )
    );
}

#[test]
fn the_token_limit_counts_the_end_of_input() {
    // 12 comparisons, 11 connectives, one pair of parentheses: 49 tokens, 50 with the end.
    let at_limit = format!("({})", ["step > 1"; 12].join(" and "));
    assert!(parse_condition(&at_limit).is_ok());
    let over = format!("{at_limit} and step");
    check(
        &over,
        &Error::TooComplex {
            tokens: 52,
            max: 50,
        },
    );
    let one_over = format!("(({}))", ["step > 1"; 12].join(" and "));
    check(
        &one_over,
        &Error::TooComplex {
            tokens: 52,
            max: 50,
        },
    );
    // 50 written tokens: refused before the syntax is looked at.
    check(
        &format!("{at_limit} ("),
        &Error::TooComplex {
            tokens: 51,
            max: 50,
        },
    );
    assert_eq!(
        parse_condition(&vec!["severity >= 0.5"; 30].join(" and "))
            .unwrap_err()
            .to_string(),
        "too complex: 120 tokens > 50",
    );
    // Lexical errors come first, as the original tokenizes everything before counting.
    let many = ["step > 1"; 20].join(" and ");
    check(
        &format!("{many} @"),
        &Error::UnexpectedChar {
            offset: many.len() + 1,
            found: '@',
        },
    );
    // Configurable.
    let parser = ConditionParser::new().max_tokens(4);
    assert!(parser.parse("step > 1").is_ok());
    check_with(
        &parser,
        "(step > 1)",
        &Error::TooComplex { tokens: 6, max: 4 },
    );
}

#[test]
fn nesting_is_bounded_without_recursion() {
    let nested = |depth: usize| format!("{}step > 1{}", "(".repeat(depth), ")".repeat(depth));
    // The default token limit admits 23 levels, below the depth limit.
    assert!(parse_condition(&nested(23)).is_ok());
    check(
        &nested(24),
        &Error::TooComplex {
            tokens: 52,
            max: 50,
        },
    );
    let deep = ConditionParser::new()
        .max_tokens(usize::MAX)
        .max_len(usize::MAX);
    assert!(deep.parse(&nested(32)).is_ok());
    check_with(
        &deep,
        &nested(33),
        &Error::TooDeep {
            offset: 32,
            max: 32,
        },
    );
    // 100,000 '(' are refused by every limit; with all limits lifted they parse, print,
    // evaluate and drop on an ordinary stack, as nothing recurses.
    let flood = "(".repeat(100_000);
    check(
        &flood,
        &Error::TooLong {
            len: 100_000,
            max: 4096,
        },
    );
    let unbounded = deep.max_depth(usize::MAX);
    check_with(
        &unbounded,
        &flood,
        &Error::Syntax {
            offset: 100_000,
            expected: Expected::Comparison,
            found: Found::EndOfInput,
        },
    );
    let huge = unbounded.parse(&nested(100_000)).unwrap();
    assert_eq!(huge.to_string().len(), 100_000 * 2 + "step > 1".len());
    assert!(huge.evaluate(&crate::context("step=2")).unwrap());
    let wide = unbounded
        .parse(&vec!["step > 1"; 50_000].join(" or "))
        .unwrap();
    assert!(!wide.evaluate(&crate::context("step=0")).unwrap());
    drop((huge, wide));
}

#[test]
fn the_input_length_is_checked_first() {
    let padded = format!("step > 1{}", " ".repeat(4096 - 8));
    assert!(parse_condition(&padded).is_ok());
    check(
        &format!("{padded} "),
        &Error::TooLong {
            len: 4097,
            max: 4096,
        },
    );
    check(
        &format!("@{}", " ".repeat(5000)),
        &Error::TooLong {
            len: 5001,
            max: 4096,
        },
    );
    let parser = ConditionParser::new().max_len(8);
    assert!(parser.parse("step > 1").is_ok());
    check_with(&parser, "step >= 1", &Error::TooLong { len: 9, max: 8 });
    // `always` is no exception.
    check_with(&parser, "  always  ", &Error::TooLong { len: 10, max: 8 });
}

#[test]
fn a_syntax_error_far_into_the_input_renders() {
    let parser = ConditionParser::new().max_len(usize::MAX);
    let source = format!("{}step >", " ".repeat(70_000));
    let error = parser.parse(&source).unwrap_err();
    assert_eq!(
        error.to_string(),
        "syntax error at byte 70006: expected a number, string or variable, found end of input"
    );
}

//! The language, case by case: what a condition evaluates to, or the error it gives.

use condition::parse_condition;

use crate::context;

/// Parses `source`, evaluates it against `context(spec)`, and compares the result (or the
/// error's message, from parsing or evaluating) with `expected`.
fn check(source: &str, spec: &str, expected: Result<bool, &str>) {
    let actual = parse_condition(source)
        .and_then(|condition| condition.evaluate(&context(spec)))
        .map_err(|error| error.to_string());
    assert_eq!(
        actual,
        expected.map_err(str::to_owned),
        "{source:?} with {spec:?}"
    );
}

#[test]
fn comparison_operators() {
    for (op, below, at, above) in [
        (">=", false, true, true),
        ("<=", true, true, false),
        (">", false, false, true),
        ("<", true, false, false),
        ("==", false, true, false),
        ("!=", true, false, true),
    ] {
        let source = format!("severity {op} 0.5");
        check(&source, "severity=0.4", Ok(below));
        check(&source, "severity=0.5", Ok(at));
        check(&source, "severity=0.6", Ok(above));
        // Literal first: the same comparison from the other side.
        let swapped = format!("0.5 {op} severity");
        check(&swapped, "severity=0.4", Ok(above));
        check(&swapped, "severity=0.5", Ok(at));
        check(&swapped, "severity=0.6", Ok(below));
    }
}

#[test]
fn and_binds_tighter_than_or() {
    let source = "severity >= 0.9 or recurrence_count >= 5 and confidence >= 0.8";
    check(
        source,
        "severity=0.95 recurrence_count=1 confidence=0.1",
        Ok(true),
    );
    check(
        source,
        "severity=0.1 recurrence_count=6 confidence=0.9",
        Ok(true),
    );
    check(
        source,
        "severity=0.1 recurrence_count=6 confidence=0.1",
        Ok(false),
    );
    check(
        source,
        "severity=0.1 recurrence_count=1 confidence=0.9",
        Ok(false),
    );
    let grouped = "(severity >= 0.9 or recurrence_count >= 5) and confidence >= 0.8";
    check(
        grouped,
        "severity=0.95 recurrence_count=1 confidence=0.1",
        Ok(false),
    );
    check(
        grouped,
        "severity=0.95 recurrence_count=1 confidence=0.9",
        Ok(true),
    );
    check("step == 1 and step == 2 or step == 3", "step=3", Ok(true));
    check("step == 1 or step == 2 and step == 3", "step=1", Ok(true));
    check("step == 1 or step == 2 and step == 3", "step=2", Ok(false));
    check("((step == 1))", "step=1", Ok(true));
    check(
        "(step == 1 or (step == 2 and (step > 0)))",
        "step=2",
        Ok(true),
    );
}

#[test]
fn always() {
    check("always", "", Ok(true));
    check("  ALWAYS \n", "severity=0.1", Ok(true));
    check("Always", "", Ok(true));
    check(
        "always and severity > 1",
        "",
        Err(
            "variable 'always' at byte 0 is not allowed; allowed: confidence, duration, recurrence_count, severity, step",
        ),
    );
    check(
        "(always)",
        "",
        Err(
            "variable 'always' at byte 1 is not allowed; allowed: confidence, duration, recurrence_count, severity, step",
        ),
    );
}

#[test]
fn numbers_compare_by_value_whatever_their_kind() {
    check("recurrence_count == 1.0", "recurrence_count=1", Ok(true));
    check("severity == 1", "severity=1.0", Ok(true));
    check("severity >= 2", "severity=1.5", Ok(false));
    check("recurrence_count > 1.5", "recurrence_count=2", Ok(true));
    check("recurrence_count < 1.5", "recurrence_count=2", Ok(false));
    check("step == .5", "step=0.5", Ok(true));
    check("step == 5.", "step=5", Ok(true));
    check("step == 007", "step=7", Ok(true));
    check("severity == 0", "severity=-0.0", Ok(true));
    check("severity >= 0", "severity=-0.0", Ok(true));
    check("severity > 0", "severity=-0.0", Ok(false));
    check("severity < 0", "severity=-1", Ok(true));
    check("severity < 0", "severity=-0.5", Ok(true));
    check("severity >= 0", "severity=-0.5", Ok(false));
    // Exact, as Python compares int and float: 2^53 + 1 is not 2^53 as a float.
    check(
        "step == 9007199254740992.0",
        "step=9007199254740993",
        Ok(false),
    );
    check(
        "step > 9007199254740992.0",
        "step=9007199254740993",
        Ok(true),
    );
    check(
        "step == 9007199254740993",
        "step=9007199254740992.0",
        Ok(false),
    );
    check(
        "step < 9007199254740993",
        "step=9007199254740992.0",
        Ok(true),
    );
    check(
        "step == 9007199254740993",
        "step=9007199254740993",
        Ok(true),
    );
    check(
        "recurrence_count >= 99999999999999999999999",
        "recurrence_count=9223372036854775807",
        Ok(false),
    );
    check(
        "recurrence_count < 99999999999999999999999",
        "recurrence_count=u:18446744073709551615",
        Ok(true),
    );
    check(
        "recurrence_count == 18446744073709551615",
        "recurrence_count=u:18446744073709551615",
        Ok(true),
    );
    check(
        "recurrence_count > 9223372036854775807",
        "recurrence_count=u:9223372036854775808",
        Ok(true),
    );
    check(
        "duration < 1000000000000000000000000000000000000000.0",
        "duration=inf",
        Ok(false),
    );
    check(
        "duration > 99999999999999999999999",
        "duration=inf",
        Ok(true),
    );
    check("duration > 1", "duration=-inf", Ok(false));
    check(
        "step == 9007199254740993 or step == 9007199254740992",
        "step=9007199254740992.0",
        Ok(true),
    );
}

#[test]
fn nan_is_unordered() {
    for (op, expected) in [
        (">=", false),
        ("<=", false),
        (">", false),
        ("<", false),
        ("==", false),
        ("!=", true),
    ] {
        check(&format!("severity {op} 0.5"), "severity=nan", Ok(expected));
        check(
            &format!("severity {op} confidence"),
            "severity=nan confidence=0.5",
            Ok(expected),
        );
        check(
            &format!("severity {op} 99999999999999999999999"),
            "severity=nan",
            Ok(expected),
        );
    }
}

#[test]
fn strings_compare_with_strings() {
    check("step == 'analyze'", "step='analyze'", Ok(true));
    check("step == \"analyze\"", "step='analyze'", Ok(true));
    check("step != 'analyze'", "step='respond'", Ok(true));
    check("step < 'b'", "step='abc'", Ok(true));
    check("step >= 'abd'", "step='abc'", Ok(false));
    check("'abc' < 'abd'", "", Ok(true));
    check("'b' > step", "step='a'", Ok(true));
    check("step == 'é'", "step='é'", Ok(true));
    check("step > 'z'", "step='é'", Ok(true));
    check("step == ''", "step=''", Ok(true));
    check(
        "step == 'say \"hi\"'",
        "",
        Err("variable 'step' not provided in context"),
    );
    check("step == severity", "step='x' severity='x'", Ok(true));
    check("step < severity", "step='a' severity='b'", Ok(true));
}

#[test]
fn strings_against_numbers() {
    check("severity == 'high'", "severity=0.9", Ok(false));
    check("severity != 'high'", "severity=0.9", Ok(true));
    check("'high' == severity", "severity=0.9", Ok(false));
    check("step == 1", "step='1'", Ok(false));
    check("step != 1", "step='1'", Ok(true));
    check("step == severity", "step='1' severity=1", Ok(false));
    check("step != severity", "step='1' severity=1", Ok(true));
    check("1 == '1'", "", Ok(false));
    check("1 != '1'", "", Ok(true));
    check(
        "severity >= 'high'",
        "severity=0.9",
        Err("cannot order a number and a string with '>=' (comparison at byte 0)"),
    );
    check(
        "'high' < severity",
        "severity=0.9",
        Err("cannot order a string and a number with '<' (comparison at byte 0)"),
    );
    check(
        "step > 1",
        "step='x'",
        Err("cannot order a string and a number with '>' (comparison at byte 0)"),
    );
    check(
        "1 <= step",
        "step='x'",
        Err("cannot order a number and a string with '<=' (comparison at byte 0)"),
    );
    check(
        "step < severity",
        "step='x' severity=1",
        Err("cannot order a string and a number with '<' (comparison at byte 0)"),
    );
    // Between literals the error is certain, so it is found when parsing.
    check(
        "severity > 1 or 1 < 'a'",
        "severity=2",
        Err("cannot order a number and a string with '<' (comparison at byte 16)"),
    );
}

#[test]
fn every_variable_is_required_even_past_a_short_circuit() {
    check(
        "severity >= 0.8 or recurrence_count >= 2",
        "severity=0.9",
        Err("variable 'recurrence_count' not provided in context"),
    );
    check(
        "severity < 0.0 and confidence > 1",
        "severity=0.5",
        Err("variable 'confidence' not provided in context"),
    );
    check(
        "severity >= 0.8",
        "",
        Err("variable 'severity' not provided in context"),
    );
    check(
        "step == duration",
        "step=1",
        Err("variable 'duration' not provided in context"),
    );
    // The first failure from the left is reported, as the original's left-to-right walk.
    check(
        "step > 'x' or severity > 1",
        "step=1",
        Err("cannot order a number and a string with '>' (comparison at byte 0)"),
    );
    check(
        "severity > 1 or step > 'x'",
        "step=1",
        Err("variable 'severity' not provided in context"),
    );
    check(
        "confidence > 1 and severity > 1",
        "",
        Err("variable 'confidence' not provided in context"),
    );
    check(
        "severity == confidence",
        "",
        Err("variable 'severity' not provided in context"),
    );
    // Literals need nothing.
    check("1 < 2", "", Ok(true));
    check("2 < 1 or 'a' == 'a'", "", Ok(true));
}

#[test]
fn lexer_quirks_of_the_original() {
    check("severity>=0.8", "severity=0.9", Ok(true));
    check("  severity   >=   0.8  ", "severity=0.9", Ok(true));
    check(
        "severity >= 0.8\n and\r\n\tstep == 1",
        "severity=0.9 step=1",
        Ok(true),
    );
    check("step==1and step==1", "step=1", Ok(true));
    check("(step==1)or(step==2)", "step=2", Ok(true));
    check(
        "step == 1 and_x",
        "step=1",
        Err(
            "variable '_x' at byte 13 is not allowed; allowed: confidence, duration, recurrence_count, severity, step",
        ),
    );
    check(
        "step == 1 AND step == 1",
        "step=1",
        Err(
            "variable 'AND' at byte 10 is not allowed; allowed: confidence, duration, recurrence_count, severity, step",
        ),
    );
    check(
        "step <> 1",
        "step=1",
        Err("syntax error at byte 6: expected a number, string or variable, found \">\""),
    );
    check(
        "severity >= 1e3",
        "severity=1",
        Err(
            "variable 'e3' at byte 13 is not allowed; allowed: confidence, duration, recurrence_count, severity, step",
        ),
    );
    check(
        "severity >= 1.2.3",
        "severity=1",
        Err(
            "syntax error at byte 15: expected 'and', 'or' or the end of the condition, found \".3\"",
        ),
    );
    check(
        "severity >= -1",
        "severity=1",
        Err("unexpected character '-' at byte 12"),
    );
    check(
        "severity >= ٣",
        "severity=3",
        Err("unexpected character '٣' at byte 12"),
    );
}

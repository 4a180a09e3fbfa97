//! Exact comparison of numbers whatever their kind, as Python compares `int` and `float`:
//! `9007199254740993 == 9007199254740992.0` is false, a huge integer literal is not
//! silently rounded.

use std::cmp::Ordering;

/// Integers up to this magnitude are exactly representable as `f64` (2^53).
pub(crate) const MAX_EXACT: u64 = 1 << 53;

/// A value read from a context during evaluation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Val<'a> {
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(&'a str),
}

/// A number literal of a condition.
#[derive(Debug, Clone)]
pub(crate) enum Num {
    Int(i64),
    /// Above `i64::MAX`.
    UInt(u64),
    Float(f64),
    /// Above `u64::MAX`.
    Big(Box<BigInt>),
}

/// An integer literal above `u64::MAX`, as Python's unbounded `int` keeps it.
#[derive(Debug, Clone)]
pub(crate) struct BigInt {
    /// Decimal digits without leading zeros.
    digits: Box<str>,
    /// The nearest `f64` (possibly infinity).
    approx: f64,
    /// The exact value compared with `approx`.
    exact_vs_approx: Ordering,
}

impl Num {
    /// Reads a number token: ASCII digits with at most one `.` (the lexer guarantees it).
    /// With a dot it is a decimal, as Python's `float()`, otherwise an exact integer.
    pub(crate) fn parse(text: &str) -> Self {
        if text.contains('.') {
            // Digits with one dot always parse; NaN keeps this total all the same.
            return Self::Float(text.parse().unwrap_or(f64::NAN));
        }
        if let Ok(int) = text.parse::<i64>() {
            return Self::Int(int);
        }
        if let Ok(uint) = text.parse::<u64>() {
            return Self::UInt(uint);
        }
        let digits = text.trim_start_matches('0');
        let approx: f64 = digits.parse().unwrap_or(f64::INFINITY);
        let exact_vs_approx = if approx.is_finite() {
            // Floats this large are integers, and `{:.0}` prints their exact digits.
            cmp_digits(digits, &format!("{approx:.0}"))
        } else {
            Ordering::Less
        };
        Self::Big(Box::new(BigInt {
            digits: digits.into(),
            approx,
            exact_vs_approx,
        }))
    }
}

/// Compares two non-negative decimal integers written without leading zeros.
fn cmp_digits(left: &str, right: &str) -> Ordering {
    left.len().cmp(&right.len()).then_with(|| left.cmp(right))
}

/// A number, widened for comparison.
#[derive(Debug, Clone, Copy)]
enum Wide<'a> {
    Int(i128),
    Float(f64),
    Big(&'a BigInt),
}

impl<'a> Wide<'a> {
    fn of_num(num: &'a Num) -> Self {
        match num {
            Num::Int(int) => Self::Int(i128::from(*int)),
            Num::UInt(uint) => Self::Int(i128::from(*uint)),
            Num::Float(float) => Self::Float(*float),
            Num::Big(big) => Self::Big(big),
        }
    }

    /// A context number, widened; `None` for a string.
    #[inline]
    fn of_val(value: Val<'_>) -> Option<Self> {
        match value {
            Val::Int(int) => Some(Self::Int(i128::from(int))),
            Val::UInt(uint) => Some(Self::Int(i128::from(uint))),
            Val::Float(float) => Some(Self::Float(float)),
            Val::Str(_) => None,
        }
    }
}

/// Compares a context number with a literal; `None` when unordered (NaN). Strings are
/// not numbers: the caller handles them.
#[inline]
pub(crate) fn cmp_val_num(value: Val<'_>, num: &Num) -> Option<Ordering> {
    cmp_wide(Wide::of_val(value)?, Wide::of_num(num))
}

/// Compares two literals (folded when parsing).
pub(crate) fn cmp_nums(left: &Num, right: &Num) -> Option<Ordering> {
    cmp_wide(Wide::of_num(left), Wide::of_num(right))
}

/// Compares two context values of the same kind; `None` when unordered (NaN, or a
/// number against a string).
#[inline]
pub(crate) fn cmp_vals(left: Val<'_>, right: Val<'_>) -> Option<Ordering> {
    match (left, right) {
        (Val::Str(left), Val::Str(right)) => Some(left.cmp(right)),
        _ => cmp_wide(Wide::of_val(left)?, Wide::of_val(right)?),
    }
}

fn cmp_wide(left: Wide<'_>, right: Wide<'_>) -> Option<Ordering> {
    match (left, right) {
        (Wide::Int(left), Wide::Int(right)) => Some(left.cmp(&right)),
        (Wide::Int(left), Wide::Float(right)) => cmp_int_float(left, right),
        (Wide::Float(left), Wide::Int(right)) => cmp_int_float(right, left).map(Ordering::reverse),
        (Wide::Float(left), Wide::Float(right)) => left.partial_cmp(&right),
        // A big literal exceeds every u64, and no context integer is wider.
        (Wide::Int(_), Wide::Big(_)) => Some(Ordering::Less),
        (Wide::Big(_), Wide::Int(_)) => Some(Ordering::Greater),
        (Wide::Float(left), Wide::Big(right)) => cmp_float_big(left, right),
        (Wide::Big(left), Wide::Float(right)) => cmp_float_big(right, left).map(Ordering::reverse),
        (Wide::Big(left), Wide::Big(right)) => Some(cmp_digits(&left.digits, &right.digits)),
    }
}

/// 2^127, exactly representable as `f64`.
const TWO_POW_127: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;

/// Compares an integer with a float exactly; `None` if the float is NaN.
#[inline]
pub(crate) fn cmp_int_float(int: i128, float: f64) -> Option<Ordering> {
    if float.is_nan() {
        return None;
    }
    if float >= TWO_POW_127 {
        return Some(Ordering::Less);
    }
    if float < -TWO_POW_127 {
        return Some(Ordering::Greater);
    }
    let whole = float.trunc();
    // In range and integral, so the conversion is exact.
    let whole_int = whole as i128;
    Some(int.cmp(&whole_int).then_with(|| {
        // Same integer part: the fraction decides.
        0.0_f64
            .partial_cmp(&(float - whole))
            .unwrap_or(Ordering::Equal)
    }))
}

/// Compares a float with an integer above `u64::MAX` exactly, through the integer's
/// nearest float: rounding is monotonic, so a float on either side of `approx` is on the
/// same side of the integer, and at `approx` the precomputed direction decides.
fn cmp_float_big(float: f64, big: &BigInt) -> Option<Ordering> {
    match float.partial_cmp(&big.approx)? {
        Ordering::Equal => Some(big.exact_vs_approx.reverse()),
        unequal => Some(unequal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_int_float(int: i128, float: f64, expected: Option<Ordering>) {
        assert_eq!(cmp_int_float(int, float), expected, "{int} vs {float}");
    }

    #[test]
    fn integers_and_floats_compare_exactly() {
        use Ordering::{Equal, Greater, Less};
        check_int_float(3, 3.0, Some(Equal));
        check_int_float(3, 2.5, Some(Greater));
        check_int_float(2, 2.5, Some(Less));
        check_int_float(-2, -2.5, Some(Greater));
        check_int_float(-3, -2.5, Some(Less));
        check_int_float(0, -0.0, Some(Equal));
        check_int_float(
            9_007_199_254_740_993,
            9_007_199_254_740_992.0,
            Some(Greater),
        );
        check_int_float(
            i128::from(i64::MAX),
            9_223_372_036_854_775_808.0,
            Some(Less),
        );
        check_int_float(0, f64::INFINITY, Some(Less));
        check_int_float(0, f64::NEG_INFINITY, Some(Greater));
        check_int_float(i128::MAX, TWO_POW_127, Some(Less));
        check_int_float(i128::MIN, -TWO_POW_127, Some(Equal));
        check_int_float(1, f64::NAN, None);
    }

    fn check_literal(text: &str, value: Val<'_>, expected: Option<Ordering>) {
        assert_eq!(
            cmp_val_num(value, &Num::parse(text)),
            expected,
            "{value:?} vs {text}"
        );
    }

    #[test]
    fn literals_keep_their_exact_value() {
        use Ordering::{Equal, Greater, Less};
        check_literal("5.", Val::Int(5), Some(Equal));
        check_literal(".5", Val::Float(0.5), Some(Equal));
        check_literal("000123", Val::Int(123), Some(Equal));
        check_literal("9223372036854775808", Val::Int(i64::MAX), Some(Less));
        check_literal("18446744073709551615", Val::UInt(u64::MAX), Some(Equal));
        check_literal("18446744073709551616", Val::UInt(u64::MAX), Some(Less));
        check_literal("99999999999999999999999", Val::Int(i64::MAX), Some(Less));
        // 2^64 + 1 rounds to 2^64: the float 2^64 is below it, the float above is not.
        check_literal(
            "18446744073709551617",
            Val::Float(18_446_744_073_709_551_616.0),
            Some(Less),
        );
        check_literal(
            "18446744073709551616",
            Val::Float(18_446_744_073_709_551_616.0),
            Some(Equal),
        );
        check_literal(
            "18446744073709551617",
            Val::Float(18_446_744_073_709_555_712.0),
            Some(Greater),
        );
        let huge = format!("1{}", "0".repeat(400));
        check_literal(&huge, Val::Float(f64::MAX), Some(Less));
        check_literal(&huge, Val::Float(f64::INFINITY), Some(Greater));
        check_literal(&format!("{huge}.0"), Val::Float(f64::INFINITY), Some(Equal));
        check_literal("1", Val::Float(f64::NAN), None);
    }
}

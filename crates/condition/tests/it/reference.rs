//! A reference implementation: the original Python algorithm transliterated as directly as
//! possible (tokenize everything, count tokens, then evaluate while parsing, left to right,
//! without short-circuit), on ASCII input. Numbers are compared exactly by a different
//! method than the crate's. Tests compare the crate against it.

use std::cmp::Ordering;
use std::collections::BTreeMap;

pub(crate) const VARIABLES: [&str; 5] = [
    "severity",
    "recurrence_count",
    "confidence",
    "step",
    "duration",
];

/// A value as Python holds it.
#[derive(Debug, Clone)]
pub(crate) enum RefValue {
    /// An `int` up to 2^126 in magnitude.
    Int(i128),
    /// A non-negative `int` literal above 2^126, as decimal digits without leading zeros.
    Big(String),
    Float(f64),
    Str(String),
}

pub(crate) type RefContext = BTreeMap<String, RefValue>;

/// What the original raises, by class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RefError {
    /// A tokenizer error at this character (= byte, on ASCII) offset.
    Lex(usize),
    TooComplex(usize),
    /// A parse error at evaluation time (its token position is not compared).
    Syntax,
    Missing(String),
    Type,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(String),
    Str(String),
    Var(String),
    Op(String),
    And,
    Or,
    LParen,
    RParen,
    Eof,
}

fn is_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r' | '\x1c'..='\x1f'
    )
}

fn tokenize(text: &str) -> Result<Vec<Tok>, RefError> {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let at = |i: usize| chars.get(i).copied();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < n {
        let c = chars[i];
        if is_space(c) {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && at(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let start = i;
            let mut has_dot = false;
            while i < n && (chars[i].is_ascii_digit() || (chars[i] == '.' && !has_dot)) {
                if chars[i] == '.' {
                    has_dot = true;
                }
                i += 1;
            }
            tokens.push(Tok::Num(chars[start..i].iter().collect()));
            continue;
        }
        if c == '"' || c == '\'' {
            let start = i;
            i += 1;
            let mut value = String::new();
            while i < n && chars[i] != c {
                value.push(chars[i]);
                i += 1;
            }
            if i >= n {
                return Err(RefError::Lex(start));
            }
            i += 1;
            tokens.push(Tok::Str(value));
            continue;
        }
        let two: String = chars[i..(i + 2).min(n)].iter().collect();
        if i + 1 < n && [">=", "<=", "==", "!="].contains(&two.as_str()) {
            tokens.push(Tok::Op(two));
            i += 2;
            continue;
        }
        if c == '>' || c == '<' {
            tokens.push(Tok::Op(c.to_string()));
            i += 1;
            continue;
        }
        if c == '!' || c == '=' {
            return Err(RefError::Lex(i));
        }
        let rest: String = chars[i..(i + 3).min(n)].iter().collect();
        if rest == "and" && at(i + 3).is_none_or(|d| !d.is_ascii_alphanumeric()) {
            tokens.push(Tok::And);
            i += 3;
            continue;
        }
        if rest.starts_with("or") && at(i + 2).is_none_or(|d| !d.is_ascii_alphanumeric()) {
            tokens.push(Tok::Or);
            i += 2;
            continue;
        }
        if c == '(' {
            tokens.push(Tok::LParen);
            i += 1;
            continue;
        }
        if c == ')' {
            tokens.push(Tok::RParen);
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < n && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            if !VARIABLES.contains(&name.as_str()) {
                return Err(RefError::Lex(start));
            }
            tokens.push(Tok::Var(name));
            continue;
        }
        return Err(RefError::Lex(i));
    }
    tokens.push(Tok::Eof);
    Ok(tokens)
}

/// The number of tokens the original counts, the end included, or its tokenizer error.
pub(crate) fn token_count(text: &str) -> Result<usize, RefError> {
    tokenize(text).map(|tokens| tokens.len())
}

/// The evaluator. With `context` `None` it only checks the syntax (every variable is
/// taken as present and every comparison as valid).
struct Evaluator<'a> {
    tokens: Vec<Tok>,
    current: usize,
    context: Option<&'a RefContext>,
}

impl Evaluator<'_> {
    fn token(&self) -> &Tok {
        self.tokens.get(self.current).unwrap_or(&Tok::Eof)
    }

    fn advance(&mut self) {
        if self.current < self.tokens.len() - 1 {
            self.current += 1;
        }
    }

    fn or_expression(&mut self) -> Result<bool, RefError> {
        let mut result = self.and_expression()?;
        while *self.token() == Tok::Or {
            self.advance();
            let right = self.and_expression()?;
            result = result || right;
        }
        Ok(result)
    }

    fn and_expression(&mut self) -> Result<bool, RefError> {
        let mut result = self.comparison()?;
        while *self.token() == Tok::And {
            self.advance();
            let right = self.comparison()?;
            result = result && right;
        }
        Ok(result)
    }

    fn comparison(&mut self) -> Result<bool, RefError> {
        if *self.token() == Tok::LParen {
            self.advance();
            let result = self.or_expression()?;
            if *self.token() != Tok::RParen {
                return Err(RefError::Syntax);
            }
            self.advance();
            return Ok(result);
        }
        let left = self.value()?;
        let Tok::Op(op) = self.token().clone() else {
            return Err(RefError::Syntax);
        };
        self.advance();
        let right = self.value()?;
        match (left, right) {
            (Some(left), Some(right)) => compare_values(&left, &op, &right),
            _ => Ok(false),
        }
    }

    fn value(&mut self) -> Result<Option<RefValue>, RefError> {
        let token = self.token().clone();
        let value = match token {
            Tok::Num(text) => literal(&text),
            Tok::Str(text) => RefValue::Str(text),
            Tok::Var(name) => match self.context {
                None => {
                    self.advance();
                    return Ok(None);
                }
                Some(context) => context.get(&name).cloned().ok_or(RefError::Missing(name))?,
            },
            _ => return Err(RefError::Syntax),
        };
        self.advance();
        Ok(self.context.map(|_| value))
    }
}

fn run(text: &str, context: Option<&RefContext>, max_tokens: usize) -> Result<bool, RefError> {
    if text.trim_matches(is_space).eq_ignore_ascii_case("always") {
        return Ok(true);
    }
    let tokens = tokenize(text)?;
    if tokens.len() > max_tokens {
        return Err(RefError::TooComplex(tokens.len()));
    }
    let mut evaluator = Evaluator {
        tokens,
        current: 0,
        context,
    };
    let result = evaluator.or_expression()?;
    if *evaluator.token() != Tok::Eof {
        return Err(RefError::Syntax);
    }
    Ok(result)
}

/// The original's verdict on the syntax alone (what it reports before or regardless of
/// any context).
pub(crate) fn check_syntax(text: &str, max_tokens: usize) -> Result<(), RefError> {
    run(text, None, max_tokens).map(drop)
}

/// The original's `safe_evaluate_condition(text, context)`, by error class.
pub(crate) fn evaluate(
    text: &str,
    context: &RefContext,
    max_tokens: usize,
) -> Result<bool, RefError> {
    run(text, Some(context), max_tokens)
}

/// A number literal as Python reads it.
pub(crate) fn literal(text: &str) -> RefValue {
    if text.contains('.') {
        return RefValue::Float(text.parse().unwrap());
    }
    let digits = match text.trim_start_matches('0') {
        "" => "0",
        digits => digits,
    };
    match digits.parse::<i128>() {
        Ok(int) if int <= 1 << 126 => RefValue::Int(int),
        Ok(_) | Err(_) => RefValue::Big(digits.to_owned()),
    }
}

/// `left op right` as Python computes it.
pub(crate) fn compare_values(
    left: &RefValue,
    op: &str,
    right: &RefValue,
) -> Result<bool, RefError> {
    let ordering = match (left, right) {
        (RefValue::Str(left), RefValue::Str(right)) => left.chars().cmp(right.chars()).into(),
        (RefValue::Str(_), _) | (_, RefValue::Str(_)) => {
            return match op {
                "==" => Ok(false),
                "!=" => Ok(true),
                _ => Err(RefError::Type),
            };
        }
        (left, right) => compare_numbers(left, right),
    };
    Ok(match ordering {
        None => op == "!=",
        Some(ordering) => match op {
            ">=" => ordering.is_ge(),
            "<=" => ordering.is_le(),
            ">" => ordering.is_gt(),
            "<" => ordering.is_lt(),
            "==" => ordering.is_eq(),
            "!=" => ordering.is_ne(),
            _ => unreachable!("{op}"),
        },
    })
}

fn compare_numbers(left: &RefValue, right: &RefValue) -> Option<Ordering> {
    use RefValue::{Big, Float, Int};
    match (left, right) {
        (Int(left), Int(right)) => Some(left.cmp(right)),
        (Float(left), Float(right)) => left.partial_cmp(right),
        (Int(left), Float(right)) => int_vs_float(*left, *right),
        (Float(left), Int(right)) => int_vs_float(*right, *left).map(Ordering::reverse),
        (Big(_), Int(_)) => Some(Ordering::Greater),
        (Int(_), Big(_)) => Some(Ordering::Less),
        (Big(left), Big(right)) => Some(left.len().cmp(&right.len()).then(left.cmp(right))),
        (Big(left), Float(right)) => big_vs_float(left, *right),
        (Float(left), Big(right)) => big_vs_float(right, *left).map(Ordering::reverse),
        _ => unreachable!(),
    }
}

/// Rounding is monotonic: if the integer's nearest float differs from `float`, it orders
/// the same way; if it is `float`, then `float` is integral and small enough to convert.
fn int_vs_float(int: i128, float: f64) -> Option<Ordering> {
    let rounded = int as f64;
    match rounded.partial_cmp(&float)? {
        Ordering::Equal => Some(int.cmp(&(float as i128))),
        unequal => Some(unequal),
    }
}

fn big_vs_float(digits: &str, float: f64) -> Option<Ordering> {
    if float.is_nan() {
        return None;
    }
    if float == f64::INFINITY {
        return Some(Ordering::Less);
    }
    if float < 1e30 {
        return Some(Ordering::Greater);
    }
    let exact = format!("{float:.0}");
    Some(
        digits
            .len()
            .cmp(&exact.len())
            .then(digits.cmp(exact.as_str())),
    )
}

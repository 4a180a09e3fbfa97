use std::fmt;

use crate::condition::{ACCEPT, Fast, Leaf, Program, REJECT, Test, bit};
use crate::lexer::{Kind, Lexer, Token, is_space};
use crate::number::{MAX_EXACT, Num, cmp_nums};
use crate::vars::{MAX_VARIABLES, Vars};
use crate::{Condition, Context, Error, Expected, Found, Operator, Result, ValueKind, Variable};

/// Parses `source` with the default whitelist and limits: shorthand for
/// `ConditionParser::new().parse(source)`.
///
/// # Errors
///
/// Any syntax error, an unknown variable, or a limit exceeded; see [`Error`].
pub fn parse_condition(source: &str) -> Result<Condition> {
    ConditionParser::new().parse(source)
}

/// Parses conditions with a chosen whitelist of variables and chosen limits.
///
/// The defaults are the original's: the five [`DEFAULT_VARIABLES`](crate::DEFAULT_VARIABLES)
/// and 50 tokens (the end of input included), plus two limits the original lacked, on
/// nesting depth and input length. Every limit bounds the parser's work and memory; the
/// parser never recurses, so even a limit raised to millions cannot exhaust the stack.
///
/// ```
/// use condition::{ConditionParser, Error};
///
/// let parser = ConditionParser::new().variables(["latency_ms", "status"])?.max_tokens(20);
/// let slow = parser.parse("latency_ms > 250 or status == 'degraded'")?;
/// assert!(slow.evaluate(&parser.context().with("latency_ms", 300).with("status", "ok"))?);
/// assert!(matches!(parser.parse("severity > 1"), Err(Error::UnknownVariable { .. })));
/// # Ok::<(), condition::Error>(())
/// ```
#[derive(Clone)]
pub struct ConditionParser {
    vars: Vars,
    max_tokens: usize,
    max_depth: usize,
    max_len: usize,
}

impl ConditionParser {
    /// The default token limit, the original's `MAX_TOKENS`: the end of input counts as one
    /// token, so 49 written tokens pass and 50 fail.
    pub const DEFAULT_MAX_TOKENS: usize = 50;
    /// The default nesting limit. The default token limit alone admits 23 levels.
    pub const DEFAULT_MAX_DEPTH: usize = 32;
    /// The default input limit in bytes, checked before anything is read.
    pub const DEFAULT_MAX_LEN: usize = 4096;
    /// The most variables a whitelist may hold.
    pub const MAX_VARIABLES: usize = MAX_VARIABLES;

    /// A parser with the default whitelist and limits.
    #[must_use]
    pub fn new() -> Self {
        Self {
            vars: Vars::Default,
            max_tokens: Self::DEFAULT_MAX_TOKENS,
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_len: Self::DEFAULT_MAX_LEN,
        }
    }

    /// Replaces the whitelist. Names must be ASCII identifiers (a letter or `_`, then
    /// letters, digits or `_`) other than `and`/`or`, each listed once, at most
    /// [`MAX_VARIABLES`](Self::MAX_VARIABLES).
    ///
    /// Conditions and [`Context`]s share a whitelist by reference: build contexts with
    /// [`context`](Self::context) of the same parser (or a clone) for the fastest evaluation.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidVariableName`] or [`Error::TooManyVariables`].
    pub fn variables<I, S>(self, names: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(Self {
            vars: Vars::custom(names)?,
            ..self
        })
    }

    /// Sets the token limit, the end of input included (default
    /// [`DEFAULT_MAX_TOKENS`](Self::DEFAULT_MAX_TOKENS)).
    #[must_use]
    pub fn max_tokens(self, max_tokens: usize) -> Self {
        Self { max_tokens, ..self }
    }

    /// Sets how many parentheses may be open at once (default
    /// [`DEFAULT_MAX_DEPTH`](Self::DEFAULT_MAX_DEPTH)).
    #[must_use]
    pub fn max_depth(self, max_depth: usize) -> Self {
        Self { max_depth, ..self }
    }

    /// Sets the input limit in bytes (default [`DEFAULT_MAX_LEN`](Self::DEFAULT_MAX_LEN)),
    /// at most `u32::MAX`.
    #[must_use]
    pub fn max_len(self, max_len: usize) -> Self {
        let max_len = max_len.min(u32::MAX as usize);
        Self { max_len, ..self }
    }

    /// The whitelisted names, in the order given.
    pub fn allowed_variables(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.vars.names()
    }

    /// The variable `name` of this parser's whitelist, for
    /// [`Context::set_variable`]; `None` if it is not whitelisted.
    #[must_use]
    pub fn variable(&self, name: &str) -> Option<Variable> {
        Variable::new(&self.vars, name)
    }

    /// An empty context for this parser's whitelist.
    #[must_use]
    pub fn context(&self) -> Context {
        Context::for_vars(self.vars.clone())
    }

    /// Parses and checks `source`, compiling it for evaluation.
    ///
    /// Errors are reported in the original's order: the input limit, then the first
    /// lexical error (unexpected character, invalid operator, unterminated string, unknown
    /// variable), then the token limit, then the first syntax error from the left.
    ///
    /// # Errors
    ///
    /// See [`Error`]; every error about the source carries its byte offset.
    pub fn parse(&self, source: &str) -> Result<Condition> {
        if source.len() > self.max_len {
            return Err(Error::TooLong {
                len: source.len(),
                max: self.max_len,
            });
        }
        if is_always(source) {
            return Ok(Condition::new(Program::always(source, self.vars.clone())));
        }
        // Pass 1 lexes everything, as the original does before it counts tokens; it also
        // counts comparisons, which sizes the program exactly.
        let mut lexer = Lexer::new(source, &self.vars);
        let mut tokens = 0_usize;
        let mut comparisons = 0_usize;
        let end = loop {
            let token = lexer.next_token()?;
            tokens += 1;
            match token.kind {
                Kind::End => break token.start,
                Kind::Op(_) => comparisons += 1,
                _ => {}
            }
        };
        if tokens > self.max_tokens {
            return Err(Error::TooComplex {
                tokens,
                max: self.max_tokens,
            });
        }
        if tokens == 1 {
            return Err(Error::Empty { offset: end });
        }
        Builder::new(source, &self.vars, comparisons, self.max_depth).build()
    }
}

impl Default for ConditionParser {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ConditionParser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConditionParser")
            .field("variables", &self.vars)
            .field("max_tokens", &self.max_tokens)
            .field("max_depth", &self.max_depth)
            .field("max_len", &self.max_len)
            .finish()
    }
}

/// `always`, alone, any case, surrounded by whitespace or not, as the original's
/// `expression.strip().lower() == "always"` (on ASCII).
fn is_always(source: &str) -> bool {
    source
        .trim_matches(|c: char| c.is_ascii() && is_space(c as u8))
        .eq_ignore_ascii_case("always")
}

/// A chain of leaves whose same exit (true or false) is still to be set, linked through
/// that exit field: the classic back-patching of and/or into jumping code.
#[derive(Clone, Copy)]
struct Chain {
    head: u32,
    tail: u32,
}

/// A parsed sub-expression: where it starts, and which leaves exit it on true and false.
#[derive(Clone, Copy)]
struct Fragment {
    first: u32,
    on_true: Chain,
    on_false: Chain,
}

/// An operator waiting on the parse stack.
#[derive(Clone, Copy, PartialEq)]
enum Pending {
    And,
    Or,
    /// `(` at this byte offset.
    Open(usize),
}

/// The chain link that ends a chain (no leaf index reaches it).
const NIL: u32 = u32::MAX - 2;

/// Pass 2: an operator-precedence parser with explicit stacks (so no input can exhaust
/// the call stack) that compiles as it goes.
struct Builder<'a> {
    source: &'a str,
    vars: &'a Vars,
    lexer: Lexer<'a>,
    max_depth: usize,
    leaves: Vec<Leaf>,
    fragments: Vec<Fragment>,
    pending: Vec<Pending>,
    depth: usize,
    required: u64,
    need_number: u64,
    need_string: u64,
    compares_variables: bool,
    /// The first comparison of two literals ordered across kinds, reported only if the
    /// syntax is otherwise valid: a syntax error is the more fundamental one.
    type_error: Option<Error>,
}

impl<'a> Builder<'a> {
    fn new(source: &'a str, vars: &'a Vars, comparisons: usize, max_depth: usize) -> Self {
        Self {
            source,
            vars,
            lexer: Lexer::new(source, vars),
            max_depth,
            leaves: Vec::with_capacity(comparisons),
            fragments: Vec::with_capacity(4),
            pending: Vec::with_capacity(4),
            depth: 0,
            required: 0,
            need_number: 0,
            need_string: 0,
            compares_variables: false,
            type_error: None,
        }
    }

    fn build(mut self) -> Result<Condition> {
        loop {
            self.comparison()?;
            // After a comparison or a closed group.
            let mut token = self.lexer.next_token()?;
            while token.kind == Kind::Close {
                self.reduce_until_open();
                if self.pending.pop().is_none() {
                    return Err(self.syntax(&token, Expected::End));
                }
                self.depth -= 1;
                token = self.lexer.next_token()?;
            }
            match token.kind {
                Kind::And => {
                    while self.pending.last() == Some(&Pending::And) {
                        self.reduce();
                    }
                    self.pending.push(Pending::And);
                }
                Kind::Or => {
                    self.reduce_until_open();
                    self.pending.push(Pending::Or);
                }
                _ => {
                    self.reduce_until_open();
                    return match self.pending.last() {
                        Some(Pending::Open(open)) => {
                            let expected = Expected::CloseParen { open: *open };
                            Err(self.syntax(&token, expected))
                        }
                        _ if token.kind == Kind::End => self.finish(),
                        _ => Err(self.syntax(&token, Expected::End)),
                    };
                }
            }
        }
    }

    /// Reads `(`* then `operand operator operand`, emitting one leaf.
    fn comparison(&mut self) -> Result<()> {
        let mut token = self.lexer.next_token()?;
        while token.kind == Kind::Open {
            if self.depth >= self.max_depth {
                return Err(Error::TooDeep {
                    offset: token.start,
                    max: self.max_depth,
                });
            }
            self.depth += 1;
            self.pending.push(Pending::Open(token.start));
            token = self.lexer.next_token()?;
        }
        let left = self.operand(token, Expected::Comparison)?;
        let op_token = self.lexer.next_token()?;
        let Kind::Op(op) = op_token.kind else {
            return Err(self.syntax(&op_token, Expected::Operator));
        };
        let right_token = self.lexer.next_token()?;
        let right = self.operand(right_token, Expected::Operand)?;
        let leaf = self.leaf(token.start, left, op, right);
        let index = u32::try_from(self.leaves.len()).unwrap_or(NIL);
        self.leaves.push(leaf);
        let chain = Chain {
            head: index,
            tail: index,
        };
        self.fragments.push(Fragment {
            first: index,
            on_true: chain,
            on_false: chain,
        });
        Ok(())
    }

    fn operand(&self, token: Token, expected: Expected) -> Result<Operand<'a>> {
        let text = self.source.get(token.start..token.end).unwrap_or_default();
        match token.kind {
            Kind::Var(slot) => Ok(Operand::Var(slot)),
            Kind::Number => Ok(Operand::Num(Num::parse(text))),
            Kind::Str => {
                let content = self
                    .source
                    .get(token.start + 1..token.end - 1)
                    .unwrap_or_default();
                let span = (to_u32(token.start + 1), to_u32(token.end - 1));
                Ok(Operand::Str(content, span))
            }
            _ => Err(self.syntax(&token, expected)),
        }
    }

    /// Compiles one comparison: variables become slots, a literal goes to the right (the
    /// operator swapped), and a comparison of two literals is decided now.
    fn leaf(&mut self, offset: usize, left: Operand<'a>, op: Operator, right: Operand<'a>) -> Leaf {
        let swapped = !matches!(left, Operand::Var(_)) && matches!(right, Operand::Var(_));
        let (var_side, other, op) = if swapped {
            (right, left, op.swapped())
        } else {
            (left, right, op)
        };
        let test = match (var_side, other) {
            (Operand::Var(slot), Operand::Var(other)) => {
                self.required |= bit(slot) | bit(other);
                self.compares_variables |= op.is_ordering();
                Test::Vars {
                    left: slot,
                    op,
                    right: other,
                }
            }
            (Operand::Var(slot), Operand::Num(num)) => {
                self.required |= bit(slot);
                if op.is_ordering() {
                    self.need_number |= bit(slot);
                }
                match num {
                    Num::Float(rhs) => Test::Float { slot, op, rhs },
                    Num::Int(rhs) if rhs.unsigned_abs() <= MAX_EXACT => Test::Float {
                        slot,
                        op,
                        // Exact: |rhs| <= 2^53.
                        rhs: rhs as f64,
                    },
                    num => Test::Num { slot, op, rhs: num },
                }
            }
            (Operand::Var(slot), Operand::Str(_, (start, end))) => {
                self.required |= bit(slot);
                if op.is_ordering() {
                    self.need_string |= bit(slot);
                }
                Test::Str {
                    slot,
                    op,
                    start,
                    end,
                }
            }
            (left, right) => match fold(offset, &left, op, &right) {
                Ok(holds) => Test::Const(holds),
                Err(error) => {
                    self.type_error.get_or_insert(error);
                    Test::Const(false)
                }
            },
        };
        Leaf {
            test,
            on_true: NIL,
            on_false: NIL,
            offset: to_u32(offset),
            swapped,
        }
    }

    /// Pops the top operator and its two operands and pushes their combination. Called
    /// only with `and`/`or` on top, which the grammar always gives two operands.
    fn reduce(&mut self) {
        let (Some(op), Some(right), Some(left)) = (
            self.pending.pop(),
            self.fragments.pop(),
            self.fragments.pop(),
        ) else {
            return;
        };
        let combined = match op {
            Pending::And => {
                self.patch(left.on_true, true, right.first);
                Fragment {
                    first: left.first,
                    on_true: right.on_true,
                    on_false: self.concat(left.on_false, right.on_false, false),
                }
            }
            _ => {
                self.patch(left.on_false, false, right.first);
                Fragment {
                    first: left.first,
                    on_true: self.concat(left.on_true, right.on_true, true),
                    on_false: right.on_false,
                }
            }
        };
        self.fragments.push(combined);
    }

    fn reduce_until_open(&mut self) {
        while matches!(self.pending.last(), Some(Pending::And | Pending::Or)) {
            self.reduce();
        }
    }

    fn exit(&mut self, leaf: u32, on_true: bool) -> Option<&mut u32> {
        let leaf = self.leaves.get_mut(leaf as usize)?;
        Some(if on_true {
            &mut leaf.on_true
        } else {
            &mut leaf.on_false
        })
    }

    /// Points every exit of `chain` at `target`.
    fn patch(&mut self, chain: Chain, on_true: bool, target: u32) {
        let mut at = chain.head;
        while let Some(exit) = self.exit(at, on_true) {
            at = std::mem::replace(exit, target);
            if at == NIL {
                break;
            }
        }
    }

    fn concat(&mut self, first: Chain, second: Chain, on_true: bool) -> Chain {
        if let Some(exit) = self.exit(first.tail, on_true) {
            *exit = second.head;
        }
        Chain {
            head: first.head,
            tail: second.tail,
        }
    }

    fn finish(mut self) -> Result<Condition> {
        if let Some(error) = self.type_error {
            return Err(error);
        }
        let Some(root) = self.fragments.pop() else {
            // Unreachable: `parse` refuses a source without tokens before building.
            return Err(Error::Empty {
                offset: self.source.len(),
            });
        };
        self.patch(root.on_true, true, ACCEPT);
        self.patch(root.on_false, false, REJECT);
        let (fast, fast_vars, fast_required) = Fast::form(&self.leaves, self.vars, self.required);
        Ok(Condition::new(Program {
            source: self.source.into(),
            vars: self.vars.clone(),
            leaves: self.leaves.into_boxed_slice(),
            start: root.first,
            required: self.required,
            need_number: self.need_number,
            need_string: self.need_string,
            compares_variables: self.compares_variables,
            fast,
            fast_vars,
            fast_required,
        }))
    }

    fn syntax(&self, token: &Token, expected: Expected) -> Error {
        let found = match token.kind {
            Kind::End => Found::EndOfInput,
            _ => Found::Token(
                self.source
                    .get(token.start..token.end)
                    .unwrap_or_default()
                    .to_owned(),
            ),
        };
        Error::Syntax {
            offset: token.start,
            expected,
            found,
        }
    }
}

/// An operand as read, before compiling.
enum Operand<'a> {
    Var(u8),
    Num(Num),
    /// The string's content and its span in the source.
    Str(&'a str, (u32, u32)),
}

impl Operand<'_> {
    fn kind(&self) -> ValueKind {
        match self {
            Self::Str(..) => ValueKind::String,
            _ => ValueKind::Number,
        }
    }
}

/// Decides a comparison of two literals, as Python would on every evaluation; ordering a
/// number against a string fails on every evaluation there, so it is an error here.
fn fold(offset: usize, left: &Operand<'_>, op: Operator, right: &Operand<'_>) -> Result<bool> {
    let ordering = match (left, right) {
        (Operand::Num(left), Operand::Num(right)) => cmp_nums(left, right),
        (Operand::Str(left, _), Operand::Str(right, _)) => Some(left.cmp(right)),
        _ if op.is_ordering() => {
            return Err(Error::TypeMismatch {
                offset,
                op,
                left: left.kind(),
                right: right.kind(),
            });
        }
        _ => None,
    };
    Ok(op.holds(ordering))
}

/// Offsets fit: the input limit is at most `u32::MAX`.
fn to_u32(offset: usize) -> u32 {
    u32::try_from(offset).unwrap_or(u32::MAX)
}

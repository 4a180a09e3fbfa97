//! The original's tokenizer, rule for rule, on ASCII bytes.

use crate::vars::Vars;
use crate::{Error, Operator, Result};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    Number,
    /// A quoted string; the token's span includes the quotes.
    Str,
    Var(u8),
    Op(Operator),
    And,
    Or,
    Open,
    Close,
    End,
}

/// A token and its byte span in the source.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

pub(crate) struct Lexer<'a> {
    source: &'a str,
    pos: usize,
    vars: &'a Vars,
}

/// Python's `str.isspace` on ASCII: space, `\t` to `\r`, and the separators 0x1C-0x1F.
pub(crate) fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t'..=b'\r' | 0x1c..=0x1f)
}

/// Whether `text` starts with `keyword` (`and` or `or`), which counts unless a letter or
/// digit follows: `and_x` is `and` then `_x`, as in the original, while `andé` is one
/// (refused) name.
pub(crate) fn starts_with_keyword(text: &str, keyword: &str) -> bool {
    text.strip_prefix(keyword).is_some_and(|rest| {
        rest.chars()
            .next()
            .is_none_or(|next| !next.is_alphanumeric())
    })
}

/// Whether `c` continues a name: an ASCII letter, digit or `_`, or any other letter or
/// digit, so that a name with a non-ASCII character is read (and refused) whole.
fn continues_name(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(source: &'a str, vars: &'a Vars) -> Self {
        Self {
            source,
            pos: 0,
            vars,
        }
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.source.as_bytes().get(at).copied()
    }

    /// The next token; after the end, [`Kind::End`] again.
    ///
    /// The rules are tried in the original's order at each position: whitespace, number,
    /// string, two- then one-character operator, lone `!`/`=`, `and`/`or` (when not followed
    /// by a letter or digit), parentheses, name. The lexer stops only on ASCII bytes and
    /// at the end of a (refused) non-ASCII name, so every offset it reports is a
    /// character boundary.
    pub(crate) fn next_token(&mut self) -> Result<Token> {
        while self.byte(self.pos).is_some_and(is_space) {
            self.pos += 1;
        }
        let start = self.pos;
        let text = self.source.get(start..).unwrap_or_default();
        let rest = text.as_bytes();
        let Some(&byte) = rest.first() else {
            return Ok(Token {
                kind: Kind::End,
                start,
                end: start,
            });
        };
        let next = rest.get(1).copied();
        let (kind, end) = match byte {
            b'0'..=b'9' => (Kind::Number, self.number_end(start)),
            b'.' if next.is_some_and(|next| next.is_ascii_digit()) => {
                (Kind::Number, self.number_end(start))
            }
            b'"' | b'\'' => {
                let quoted = rest.get(1..).unwrap_or_default();
                let Some(length) = quoted.iter().position(|&other| other == byte) else {
                    return Err(Error::UnterminatedString {
                        offset: start,
                        quote: char::from(byte),
                    });
                };
                (Kind::Str, start + length + 2)
            }
            b'>' | b'<' | b'=' | b'!' if next == Some(b'=') => {
                let op = match byte {
                    b'>' => Operator::Ge,
                    b'<' => Operator::Le,
                    b'=' => Operator::Eq,
                    _ => Operator::Ne,
                };
                (Kind::Op(op), start + 2)
            }
            b'>' => (Kind::Op(Operator::Gt), start + 1),
            b'<' => (Kind::Op(Operator::Lt), start + 1),
            b'!' | b'=' => {
                return Err(Error::InvalidOperator {
                    offset: start,
                    found: char::from(byte),
                });
            }
            b'a' if starts_with_keyword(text, "and") => (Kind::And, start + 3),
            b'o' if starts_with_keyword(text, "or") => (Kind::Or, start + 2),
            b'(' => (Kind::Open, start + 1),
            b')' => (Kind::Close, start + 1),
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => self.name(start)?,
            // A name that starts with a non-ASCII letter, also read whole to be refused.
            _ if text.chars().next().is_some_and(char::is_alphabetic) => self.name(start)?,
            _ => {
                let found = text.chars().next();
                return Err(Error::UnexpectedChar {
                    offset: start,
                    found: found.unwrap_or(char::REPLACEMENT_CHARACTER),
                });
            }
        };
        self.pos = end;
        Ok(Token { kind, start, end })
    }

    /// The name starting at `start`, as a whitelisted variable's token kind and its end.
    fn name(&self, start: usize) -> Result<(Kind, usize)> {
        let text = self.source.get(start..).unwrap_or_default();
        let len = text
            .char_indices()
            .find(|(_, c)| !continues_name(*c))
            .map_or(text.len(), |(end, _)| end);
        let name = text.get(..len).unwrap_or_default();
        let end = start + len;
        if !name.is_ascii() {
            return Err(Error::NonAsciiName {
                offset: start,
                name: name.to_owned(),
            });
        }
        match self.vars.slot(name.as_bytes()) {
            Some(slot) => Ok((Kind::Var(slot), end)),
            None => Err(Error::UnknownVariable {
                offset: start,
                name: name.to_owned(),
                allowed: self.vars.allowed().to_owned(),
            }),
        }
    }

    /// Digits with at most one `.`: `1.2.3` is `1.2` then `.3`, as in the original.
    fn number_end(&self, start: usize) -> usize {
        let mut end = start;
        let mut seen_dot = false;
        while let Some(byte) = self.byte(end) {
            match byte {
                b'0'..=b'9' => {}
                b'.' if !seen_dot => seen_dot = true,
                _ => break,
            }
            end += 1;
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lexes `source` to (kind, text) pairs, the end token included, or the error message.
    fn lex(source: &str) -> std::result::Result<Vec<(Kind, &str)>, String> {
        let vars = Vars::Default;
        let mut lexer = Lexer::new(source, &vars);
        let mut tokens = Vec::new();
        loop {
            let token = lexer.next_token().map_err(|e| e.to_string())?;
            tokens.push((token.kind, &source[token.start..token.end]));
            if token.kind == Kind::End {
                return Ok(tokens);
            }
        }
    }

    fn check(source: &str, expected: std::result::Result<&[(Kind, &str)], &str>) {
        assert_eq!(
            lex(source),
            expected.map(<[_]>::to_vec).map_err(str::to_owned),
            "{source:?}"
        );
    }

    #[test]
    fn tokens_follow_the_original_rules() {
        use Kind::*;
        check(
            "severity >= 0.8",
            Ok(&[
                (Var(0), "severity"),
                (Op(Operator::Ge), ">="),
                (Number, "0.8"),
                (End, ""),
            ]),
        );
        check(
            "(step<1)",
            Ok(&[
                (Open, "("),
                (Var(3), "step"),
                (Op(Operator::Lt), "<"),
                (Number, "1"),
                (Close, ")"),
                (End, ""),
            ]),
        );
        check("and or", Ok(&[(And, "and"), (Or, "or"), (End, "")]));
        check("42", Ok(&[(Number, "42"), (End, "")]));
        check("3.14", Ok(&[(Number, "3.14"), (End, "")]));
        check(".5 5.", Ok(&[(Number, ".5"), (Number, "5."), (End, "")]));
        check("1.2.3", Ok(&[(Number, "1.2"), (Number, ".3"), (End, "")]));
        check("1and", Ok(&[(Number, "1"), (And, "and"), (End, "")]));
        check(
            "and_x",
            Err(
                "variable '_x' at byte 3 is not allowed; allowed: confidence, duration, recurrence_count, severity, step",
            ),
        );
        check("or(", Ok(&[(Or, "or"), (Open, "("), (End, "")]));
        check(
            "<>",
            Ok(&[(Op(Operator::Lt), "<"), (Op(Operator::Gt), ">"), (End, "")]),
        );
        check(
            "'a\"b' \"it's\"",
            Ok(&[(Str, "'a\"b'"), (Str, "\"it's\""), (End, "")]),
        );
        check("'é'", Ok(&[(Str, "'é'"), (End, "")]));
        check(
            "\t\n\x0b\x0c\r\x1c\x1f step",
            Ok(&[(Var(3), "step"), (End, "")]),
        );
        check("", Ok(&[(End, "")]));
        check(
            "=<",
            Err("invalid operator '=' at byte 0: use >=, <=, >, <, ==, or !="),
        );
        check(
            "a ! b",
            Err(
                "variable 'a' at byte 0 is not allowed; allowed: confidence, duration, recurrence_count, severity, step",
            ),
        );
        check(
            "step !",
            Err("invalid operator '!' at byte 5: use >=, <=, >, <, ==, or !="),
        );
        check("step >= -1", Err("unexpected character '-' at byte 8"));
        check(
            "1e3",
            Err(
                "variable 'e3' at byte 1 is not allowed; allowed: confidence, duration, recurrence_count, severity, step",
            ),
        );
        check(
            "AND",
            Err(
                "variable 'AND' at byte 0 is not allowed; allowed: confidence, duration, recurrence_count, severity, step",
            ),
        );
        check(
            "'open",
            Err("unterminated string at byte 0: expected a closing '\\''"),
        );
        check(
            "step == \"x",
            Err("unterminated string at byte 8: expected a closing '\"'"),
        );
        check("step >= ٣", Err("unexpected character '٣' at byte 8"));
        check(
            "step\u{a0}",
            Err("unexpected character '\\u{a0}' at byte 4"),
        );
        check("5..", Err("unexpected character '.' at byte 2"));
    }
}

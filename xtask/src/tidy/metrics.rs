//! Metric names are described once: in every library crate, each
//! `const <NAME>_METRIC: &str = "...";` appears exactly once in the crate's one
//! `METRIC_DESCRIPTIONS: &[(&str, &str)]` table, as `(NAME_METRIC, "help")` with
//! non-empty help, and every entry of that table names such a constant. That table is
//! what a Prometheus sink describes the metrics with, so a metric missing from it is
//! exported without `# HELP`, and an entry without a constant describes nothing.
//!
//! Read from the source text (comments skipped), as rustc offers no way to list a
//! crate's constants by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A `const <NAME>_METRIC` declaration.
#[derive(Debug, PartialEq, Eq)]
struct Constant {
    name: String,
    at: Location,
}

/// A `METRIC_DESCRIPTIONS` table: its entries, or why they could not be read.
#[derive(Debug, PartialEq, Eq)]
struct Table {
    at: Location,
    entries: Result<Vec<Entry>, String>,
}

#[derive(Debug, PartialEq, Eq)]
struct Entry {
    constant: String,
    help: String,
    at: Location,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Location {
    file: PathBuf,
    line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// Every broken rule of crate `name`, whose sources are `sources` (path, text).
pub(super) fn problems(name: &str, sources: &[(PathBuf, String)]) -> Vec<String> {
    let mut constants = Vec::new();
    let mut tables = Vec::new();
    for (path, text) in sources {
        constants.extend(find_constants(path, text));
        tables.extend(find_tables(path, text));
    }
    let mut problems = Vec::new();
    let table = match tables.as_slice() {
        [] if constants.is_empty() => return problems,
        [] => {
            let names: Vec<&str> = constants.iter().map(|c| c.name.as_str()).collect();
            problems.push(format!(
                "`{name}` declares {} but no `METRIC_DESCRIPTIONS: &[(&str, &str)]` table describing them",
                names.join(", ")
            ));
            return problems;
        }
        [table] => table,
        [first, rest @ ..] => {
            for other in rest {
                problems.push(format!(
                    "`{name}` has a second METRIC_DESCRIPTIONS table at {} (the first is at {}): one table per crate",
                    other.at, first.at
                ));
            }
            first
        }
    };
    let entries = match &table.entries {
        Ok(entries) => entries,
        Err(why) => {
            problems.push(format!(
                "`{name}`: cannot read the METRIC_DESCRIPTIONS table at {}: {why}",
                table.at
            ));
            return problems;
        }
    };
    let mut described: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for entry in entries {
        described.entry(&entry.constant).or_default().push(entry);
        if entry.help.trim().is_empty() {
            problems.push(format!(
                "`{name}`: {} has empty help at {}",
                entry.constant, entry.at
            ));
        }
        if !constants
            .iter()
            .any(|constant| constant.name == entry.constant)
        {
            problems.push(format!(
                "`{name}`: the METRIC_DESCRIPTIONS entry at {} names `{}`, which is no `const ..._METRIC: &str` of this crate",
                entry.at, entry.constant
            ));
        }
    }
    for constant in &constants {
        match described.get(constant.name.as_str()).map(Vec::len) {
            None => problems.push(format!(
                "`{name}`: {} (declared at {}) is not in the METRIC_DESCRIPTIONS table at {}",
                constant.name, constant.at, table.at
            )),
            Some(1) => {}
            Some(count) => problems.push(format!(
                "`{name}`: {} is described {count} times in the METRIC_DESCRIPTIONS table at {}",
                constant.name, table.at
            )),
        }
    }
    problems
}

fn line_of(code: &str, offset: usize) -> usize {
    code.get(..offset)
        .map_or(0, |before| before.matches('\n').count())
        + 1
}

/// Whether `offset` lies in a `//` comment (doc comments included).
fn in_comment(code: &str, offset: usize) -> bool {
    let line_start = code
        .get(..offset)
        .and_then(|before| before.rfind('\n'))
        .map_or(0, |newline| newline + 1);
    code.get(line_start..offset)
        .is_some_and(|before| before.contains("//"))
}

fn is_ident(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Every `const X_METRIC: &str` (or `&'static str`) in `code`.
fn find_constants(file: &Path, code: &str) -> Vec<Constant> {
    let mut found = Vec::new();
    for (offset, _) in code.match_indices("const ") {
        let glued = offset > 0
            && code
                .as_bytes()
                .get(offset - 1)
                .copied()
                .is_some_and(is_ident);
        if glued || in_comment(code, offset) {
            continue;
        }
        let mut cursor = Cursor::new(code, offset + "const ".len());
        let name = cursor.ident();
        if !name.ends_with("_METRIC") || name.len() == "_METRIC".len() {
            continue;
        }
        let typed = cursor.eat(":") && cursor.eat("&") && {
            let _lifetime = cursor.eat("'static");
            cursor.eat("str")
        };
        if typed {
            found.push(Constant {
                name: name.to_owned(),
                at: Location {
                    file: file.to_path_buf(),
                    line: line_of(code, offset),
                },
            });
        }
    }
    found
}

/// Every `const METRIC_DESCRIPTIONS ... = &[ ... ];` in `code`, its entries parsed.
fn find_tables(file: &Path, code: &str) -> Vec<Table> {
    let mut found = Vec::new();
    for keyword in ["const METRIC_DESCRIPTIONS", "static METRIC_DESCRIPTIONS"] {
        for (offset, _) in code.match_indices(keyword) {
            if in_comment(code, offset) {
                continue;
            }
            let at = Location {
                file: file.to_path_buf(),
                line: line_of(code, offset),
            };
            let start = code
                .get(offset..)
                .and_then(|rest| rest.find("= &["))
                .map(|found| offset + found + "= &[".len());
            let entries = match start {
                Some(start) => entries(file, code, start),
                None => Err("expected `= &[` after the name".to_owned()),
            };
            found.push(Table { at, entries });
        }
    }
    found
}

/// The `(NAME_METRIC, "help")` entries from `start` to the closing `]`.
fn entries(file: &Path, code: &str, start: usize) -> Result<Vec<Entry>, String> {
    let mut cursor = Cursor::new(code, start);
    let mut entries = Vec::new();
    loop {
        if cursor.eat("]") {
            return Ok(entries);
        }
        let line = line_of(code, cursor.at);
        let fail = |what: &str| Err(format!("line {line}: expected {what}"));
        if !cursor.eat("(") {
            return fail("`(NAME_METRIC, \"help\")` or `]`");
        }
        // `crate::x::NAME_METRIC` names the constant by its last segment.
        let mut constant = cursor.ident();
        while cursor.eat("::") {
            constant = cursor.ident();
        }
        if constant.is_empty() {
            return fail("the metric's constant, not a literal name, first in the entry");
        }
        if !cursor.eat(",") {
            return fail("`,` after the constant");
        }
        let Some(help) = cursor.string() else {
            return fail("the help text as a string literal");
        };
        let _trailing = cursor.eat(",");
        if !cursor.eat(")") {
            return fail("`)` closing the entry");
        }
        let _separator = cursor.eat(",");
        entries.push(Entry {
            constant: constant.to_owned(),
            help,
            at: Location {
                file: file.to_path_buf(),
                line,
            },
        });
    }
}

/// Reads tokens from `code`, skipping whitespace before each.
struct Cursor<'a> {
    code: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(code: &'a str, at: usize) -> Self {
        Self { code, at }
    }

    fn rest(&self) -> &'a str {
        self.code.get(self.at..).unwrap_or_default()
    }

    /// Skips whitespace and `//` comments.
    fn skip_space(&mut self) {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.at += rest.len() - trimmed.len();
            if !trimmed.starts_with("//") {
                return;
            }
            self.at += trimmed.find('\n').unwrap_or(trimmed.len());
        }
    }

    /// Consumes `token` if it comes next.
    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    /// The identifier that comes next (empty if none).
    fn ident(&mut self) -> &'a str {
        self.skip_space();
        let rest = self.rest();
        let len = rest.bytes().take_while(|byte| is_ident(*byte)).count();
        self.at += len;
        rest.get(..len).unwrap_or_default()
    }

    /// The content of the string literal that comes next, escapes left as written.
    fn string(&mut self) -> Option<String> {
        self.skip_space();
        let rest = self.rest().strip_prefix('"')?;
        let mut escaped = false;
        for (index, char) in rest.char_indices() {
            match char {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    self.at += 1 + index + 1;
                    return rest.get(..index).map(str::to_owned);
                }
                _ => {}
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, files: &[(&str, &str)], expected: &[&str]) {
        let sources: Vec<(PathBuf, String)> = files
            .iter()
            .map(|(path, text)| (PathBuf::from(path), (*text).to_owned()))
            .collect();
        assert_eq!(problems(name, &sources), expected, "{files:#?}");
    }

    const GOOD: &str = r#"
/// The gauge [`MODE_METRIC`] holds; `const NOT_METRIC: &str` in a doc comment is no declaration.
pub const MODE_METRIC: &str = "fallback_mode";
pub(crate) const TRANSITIONS_METRIC: &'static str =
    "fallback_transitions";
const UNRELATED: &str = "x";

/// Help texts.
pub const METRIC_DESCRIPTIONS: &[(&str, &str)] = &[
    // The mode, see https://example.com/modes.
    (MODE_METRIC, "The mode: 0 primary, 1 \"heuristic\", 2 safe (https://example.com)"), // trailing
    (
        crate::manager::TRANSITIONS_METRIC,
        "Mode changes, \
         by mode",
    ),
];
"#;

    #[test]
    fn a_complete_table_passes() {
        check("fallback", &[("lib.rs", GOOD)], &[]);
        check(
            "condition",
            &[("lib.rs", "pub const LIMIT: usize = 3;")],
            &[],
        );
    }

    #[test]
    fn constants_and_entries_must_match_one_to_one() {
        let extra = "pub const DROPPED_METRIC: &str = \"dropped\";";
        check(
            "fallback",
            &[("lib.rs", GOOD), ("extra.rs", extra)],
            &[
                "`fallback`: DROPPED_METRIC (declared at extra.rs:1) is not in the METRIC_DESCRIPTIONS table at lib.rs:9",
            ],
        );
        let twice = GOOD.replace(
            "];",
            "    (MODE_METRIC, \"again\"),\n    (GONE_METRIC, \"\"),\n];",
        );
        check(
            "fallback",
            &[("lib.rs", &twice)],
            &[
                "`fallback`: GONE_METRIC has empty help at lib.rs:18",
                "`fallback`: the METRIC_DESCRIPTIONS entry at lib.rs:18 names `GONE_METRIC`, which is no `const ..._METRIC: &str` of this crate",
                "`fallback`: MODE_METRIC is described 2 times in the METRIC_DESCRIPTIONS table at lib.rs:9",
            ],
        );
    }

    #[test]
    fn one_table_per_crate_naming_constants() {
        check(
            "health",
            &[("a.rs", "const A_METRIC: &str = \"a\";")],
            &[
                "`health` declares A_METRIC but no `METRIC_DESCRIPTIONS: &[(&str, &str)]` table describing them",
            ],
        );
        let literal = "const A_METRIC: &str = \"a\";\nconst METRIC_DESCRIPTIONS: &[(&str, &str)] = &[(\"a\", \"help\")];";
        check(
            "health",
            &[("a.rs", literal)],
            &[
                "`health`: cannot read the METRIC_DESCRIPTIONS table at a.rs:2: line 2: expected the metric's constant, not a literal name, first in the entry",
            ],
        );
        let table = "const METRIC_DESCRIPTIONS: &[(&str, &str)] = &[(A_METRIC, \"a\")];";
        check(
            "health",
            &[
                ("a.rs", &format!("const A_METRIC: &str = \"a\";\n{table}")),
                ("b.rs", table),
            ],
            &[
                "`health` has a second METRIC_DESCRIPTIONS table at b.rs:1 (the first is at a.rs:2): one table per crate",
            ],
        );
    }
}

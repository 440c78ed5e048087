//! The report for a person: short sections, identifiers quoted as SQL
//! would need them, and nothing a name or value holds can move the cursor,
//! recolour the terminal or start a line that looks like the report's own.

use std::borrow::Cow;
use std::fmt::Write as _;

use fk_safe::integrity::audit::{self, AuditReport};
use fk_safe::integrity::load_order::{Breakable, Cycle, LoadOrder, NullBreak, TableName};
use fk_safe::integrity::ConstraintOrphans;
use fk_safe::ForeignKey;

use crate::outcome::Outcome;
use crate::scan::{Findings, Orphans};

/// A message of several lines (a server's error with its hint), each line
/// [`printable`], later lines indented under the first, tabs as spaces.
pub fn printable_message(text: &str, indent: &str) -> String {
    text.split('\n')
        .map(|line| printable(&line.replace('\t', "  ")).into_owned())
        .collect::<Vec<_>>()
        .join(&format!("\n{indent}"))
}

/// `text` with control characters (newlines, escape sequences) and
/// bidirectional overrides written as `\u{..}`, so that what a database
/// name or value holds is shown, never obeyed by the terminal.
pub fn printable(text: &str) -> Cow<'_, str> {
    let hostile = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(hostile) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hostile(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A name as SQL would need it: plain lower-case names bare, anything
/// else in double quotes with quotes doubled.
fn ident(name: &str) -> String {
    fk_safe::display_ident(name)
}

fn columns(names: &[String]) -> String {
    names
        .iter()
        .map(|n| ident(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `schema.child (columns) -> schema.parent (columns)`, then the
/// constraint's name in brackets when it has one.
fn foreign_key(fk: &ForeignKey) -> String {
    let mut out = format!(
        "{}.{} ({}) -> {}.{} ({})",
        ident(&fk.schema),
        ident(&fk.table),
        columns(&fk.columns),
        ident(&fk.parent_schema),
        ident(&fk.parent_table),
        columns(&fk.parent_columns)
    );
    if let Some(name) = &fk.name {
        let _ = write!(out, " [{}]", ident(name));
    }
    out
}

fn tables(tables: &[TableName]) -> String {
    tables
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural(count: u64, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// Appends `line`, made printable, and a newline.
fn line(out: &mut String, text: &str) {
    out.push_str(&printable(text));
    out.push('\n');
}

/// Lines wider than this are wrapped between table names.
const WIDTH: usize = 100;

/// `head` and the names, comma-separated, continued on lines indented
/// under the first name when they would pass [`WIDTH`].
fn wrapped(out: &mut String, head: &str, names: &[TableName]) {
    let indent = " ".repeat(head.chars().count());
    let mut current = head.to_string();
    let mut width = current.chars().count();
    for (index, name) in names.iter().enumerate() {
        let name = name.to_string();
        let last = index + 1 == names.len();
        let piece = if last { name } else { format!("{name},") };
        let piece_width = piece.chars().count();
        let at_start = width == indent.len();
        if !at_start && width + 1 + piece_width > WIDTH {
            line(out, &current);
            current = indent.clone();
            width = indent.len();
        } else if !at_start {
            current.push(' ');
            width += 1;
        }
        current.push_str(&piece);
        width += piece_width;
    }
    line(out, &current);
}

/// The load order section.
pub fn load_order(out: &mut String, order: &LoadOrder) {
    let count: usize = order.levels.iter().map(Vec::len).sum();
    line(
        out,
        &format!(
            "Load order: {} in {}, parents first",
            plural(count as u64, "table", "tables"),
            plural(order.levels.len() as u64, "level", "levels")
        ),
    );
    for (level, names) in order.levels.iter().enumerate() {
        wrapped(out, &format!("  level {level}: "), names);
    }
    if order.cycles.is_empty() {
        line(out, "Cycles: none");
        return;
    }
    line(out, &format!("Cycles: {}", order.cycles.len()));
    for cycle in &order.cycles {
        cycle_lines(out, cycle);
    }
}

fn cycle_lines(out: &mut String, cycle: &Cycle) {
    let what = if cycle.is_self_reference() {
        format!("{} references itself", cycle.tables[0])
    } else {
        tables(&cycle.tables)
    };
    let verdict = match cycle.breakable() {
        Some(true) => "breakable",
        Some(false) => "UNBREAKABLE: no order, NULL or deferral writes these rows",
        None => {
            "undecided: only deferring could break it, and the catalog does not record \
             deferrability (on SQLite, PRAGMA defer_foreign_keys = ON defers every key)"
        }
    };
    line(out, &format!("  {what}: {verdict}"));
    for edge in &cycle.edges {
        line(
            out,
            &format!(
                "    {}: {}",
                foreign_key(&edge.foreign_key),
                breaking(&edge.breakable)
            ),
        );
    }
}

fn breaking(breakable: &Breakable) -> String {
    if breakable.verdict() == Some(false) {
        return "cannot be broken (NOT NULL, NOT DEFERRABLE)".to_string();
    }
    let by_null = match &breakable.by_null {
        NullBreak::AnyOf(names) => format!("write NULL to {} first", or_list(names)),
        NullBreak::AllOf(names) => {
            format!("write NULL to all of {} first (MATCH FULL)", columns(names))
        }
        NullBreak::Impossible => "NOT NULL".to_string(),
    };
    match breakable.can_defer() {
        Some(true) => format!("{by_null}; or defer it to commit (DEFERRABLE)"),
        Some(false) => by_null,
        None => format!("{by_null}; deferring: unknown (not in the catalog)"),
    }
}

fn or_list(names: &[String]) -> String {
    match names {
        [one] => ident(one),
        _ => format!("any of {}", columns(names)),
    }
}

/// The orphans section, then the foreign keys that could not be checked.
pub fn orphans(out: &mut String, report: &Orphans) {
    let checked = report.constraints().len() as u64;
    if !report.found() {
        line(
            out,
            &format!(
                "Orphans: none in {} checked",
                plural(checked, "foreign key", "foreign keys")
            ),
        );
    } else {
        let partial: u64 = report.constraints().iter().map(|c| c.partial_nulls).sum();
        let partial = if partial > 0 {
            format!(
                " and {} (MATCH FULL)",
                plural(partial, "partly NULL key", "partly NULL keys")
            )
        } else {
            String::new()
        };
        line(
            out,
            &format!(
                "Orphans: {}{partial} in {} of {} checked",
                plural(report.total_orphans(), "row", "rows"),
                report.broken().count(),
                plural(checked, "foreign key", "foreign keys")
            ),
        );
        for constraint in report.broken() {
            line(out, &format!("  {}", constraint_line(constraint)));
        }
    }
    let unchecked = report.unchecked();
    if !unchecked.is_empty() {
        line(
            out,
            &format!(
                "Not checked: {} (the database did not let them be checked: no complete answer)",
                plural(unchecked.len() as u64, "foreign key", "foreign keys")
            ),
        );
        for fk in unchecked {
            line(
                out,
                &format!(
                    "  {}: {}",
                    foreign_key(&fk.foreign_key),
                    fk.reason.trim_end()
                ),
            );
        }
    }
}

/// The audit section: its findings grouped by kind, in the order of the
/// library's checks.
pub fn audit(out: &mut String, report: &AuditReport) {
    if report.is_clean() {
        line(out, "Audit: no findings");
        return;
    }
    line(
        out,
        &format!(
            "Audit: {} (they fail the run only with --fail-on)",
            plural(report.findings.len() as u64, "finding", "findings")
        ),
    );
    for kind in audit::Finding::KINDS {
        let found: Vec<&audit::Finding> = report.of_kind(kind).collect();
        if found.is_empty() {
            continue;
        }
        line(out, &format!("  {kind}: {}", found.len()));
        for finding in found {
            line(out, &format!("    {finding}"));
        }
    }
}

fn constraint_line(constraint: &ConstraintOrphans) -> String {
    let mut text = format!(
        "{}: {}",
        foreign_key(&constraint.foreign_key),
        plural(constraint.orphans, "orphan", "orphans")
    );
    sample(
        &mut text,
        constraint.sample.iter().map(|o| o.child_key.as_slice()),
    );
    if constraint.partial_nulls > 0 {
        let _ = write!(
            text,
            "; {} (refused by MATCH FULL)",
            plural(
                constraint.partial_nulls,
                "partly NULL key",
                "partly NULL keys"
            )
        );
        sample(
            &mut text,
            constraint.partial_null_sample.iter().map(Vec::as_slice),
        );
    }
    text
}

fn sample<'a>(text: &mut String, keys: impl Iterator<Item = &'a [Option<String>]>) {
    for (index, key) in keys.enumerate() {
        text.push_str(if index == 0 { "; e.g. (" } else { ", (" });
        let values: Vec<&str> = key.iter().map(|v| v.as_deref().unwrap_or("NULL")).collect();
        text.push_str(&values.join(", "));
        text.push(')');
    }
}

/// The last line: what the exit status will be and why.
pub fn result(out: &mut String, findings: &Findings, outcome: &Outcome) {
    let unchecked = if outcome.unchecked > 0 {
        format!(
            "; {} not checked",
            plural(outcome.unchecked as u64, "foreign key", "foreign keys")
        )
    } else {
        String::new()
    };
    let audited = findings.audit.as_ref().map_or(0, |r| r.findings.len()) as u64;
    let status = outcome.exit_status();
    let text = if !outcome.failed_on.is_empty() {
        let names: Vec<&str> = outcome.failed_on.iter().map(|f| f.name()).collect();
        format!(
            "Result: found {}{unchecked} (exit status {status})",
            names.join(", ")
        )
    } else if outcome.unchecked > 0 {
        format!("Result: incomplete{unchecked} (exit status {status})")
    } else if audited > 0 {
        format!(
            "Result: no failing finding, {} not chosen by --fail-on (exit status {status})",
            plural(audited, "audit finding", "audit findings")
        )
    } else {
        format!("Result: clean (exit status {status})")
    };
    line(out, &text);
}

/// The whole report of a command.
pub fn report(database: &str, command: &str, findings: &Findings, outcome: &Outcome) -> String {
    let mut out = String::new();
    line(&mut out, &format!("fk-safe {command}: {database}"));
    if let Some(order) = &findings.load_order {
        out.push('\n');
        load_order(&mut out, order);
    }
    if let Some(report) = &findings.orphans {
        out.push('\n');
        orphans(&mut out, report);
    }
    if let Some(report) = &findings.audit {
        out.push('\n');
        audit(&mut out, report);
    }
    out.push('\n');
    result(&mut out, findings, outcome);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_shown_not_obeyed() {
        assert_eq!(printable("plain ü \"x\""), "plain ü \"x\"");
        assert_eq!(
            printable("a\nb\x1b[31m\u{202e}"),
            "a\\u{a}b\\u{1b}[31m\\u{202e}"
        );
    }

    #[test]
    fn names_are_quoted_as_sql_needs() {
        assert_eq!(ident("orders"), "orders");
        assert_eq!(ident("Lager \"Nord\"; --"), "\"Lager \"\"Nord\"\"; --\"");
    }
}

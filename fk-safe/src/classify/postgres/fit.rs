//! Which declared constraint a PostgreSQL failure can be, and what its
//! text says once the constraint is known: rules over the error's fields
//! and the catalog's declarations, no I/O. The DETAIL and the message may
//! be translated; only the identifiers in them (never translated) are read.

use std::sync::Arc;

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::detail::{self, DetailSide};
use crate::fk::{FkAction, FkViolation, ForeignKey, ViolationKind};

/// A declared constraint that may be the one a failure reported.
#[derive(Debug, Clone)]
pub(crate) struct PossibleConstraint {
    pub(crate) fk: Arc<ForeignKey>,
    /// Reported through a clone kept for a partition of the parent.
    pub(crate) parent_side: bool,
    /// The server's `server_version_num` (180000 and up: PostgreSQL 18,
    /// which reports RESTRICT with its own SQLSTATE).
    pub(crate) server_version: i32,
}

/// Whether what the DETAIL names (untranslated identifiers only) fits a
/// candidate: its column list is the child's or the parent's columns, and a
/// missing parent's DETAIL names the candidate's parent table.
pub(crate) fn fits_detail(detail: Option<&str>, kind: ViolationKind, fk: &ForeignKey) -> bool {
    let Some(detail) = detail else {
        return true;
    };
    if !detail.contains(")=(") {
        // No privilege, or MATCH FULL: the DETAIL names no key.
        return true;
    }
    let child = format!("({})=(", fk.columns.join(", "));
    let parent = format!("({})=(", fk.parent_columns.join(", "));
    let columns_fit = match kind {
        ViolationKind::MissingParent => detail.contains(&child),
        ViolationKind::StillReferenced => detail.contains(&parent),
        _ => detail.contains(&child) || detail.contains(&parent),
    };
    let parent_named =
        kind != ViolationKind::MissingParent || count_delimited(detail, &fk.parent_table) > 0;
    columns_fit && parent_named
}

/// Whether a candidate's actions can raise the error's SQLSTATE. Only NO
/// ACTION and RESTRICT refuse to delete or re-key a referenced parent (the
/// others change the children instead). PostgreSQL 18 raises 23001
/// (`RestrictViolation`) for RESTRICT and keeps 23503 for NO ACTION; older
/// servers raise 23503 for both. Which of the two actions (delete or
/// update) applied is not known, so either may match.
pub(crate) fn fits_error_code(violation: &FkViolation, candidate: &PossibleConstraint) -> bool {
    let actions = [candidate.fk.on_delete, candidate.fk.on_update];
    if error_kind(violation) == Some(&DatabaseErrorKind::RestrictViolation) {
        return actions.contains(&FkAction::Restrict);
    }
    if violation.kind() != ViolationKind::StillReferenced {
        return true;
    }
    if candidate.server_version >= 180_000 {
        actions.contains(&FkAction::NoAction)
    } else {
        actions
            .iter()
            .any(|a| matches!(a, FkAction::NoAction | FkAction::Restrict))
    }
}

fn error_kind(violation: &FkViolation) -> Option<&DatabaseErrorKind> {
    match violation.diesel_error() {
        Some(DieselError::DatabaseError(kind, _)) => Some(kind),
        _ => None,
    }
}

/// Decides a translated message's kind without reading its words: a clone
/// kept for a partition of the parent only fails on the parent side; the
/// DETAIL lists the child's columns for a missing parent and the parent's
/// for a still-referenced key; failing both, the message names the parent
/// table (quoted as it quotes the reported table) only when the parent side
/// was written. Any doubt leaves the kind undetermined.
pub(crate) fn infer_kind(
    violation: &FkViolation,
    candidate: &PossibleConstraint,
    reported_table: &str,
) -> ViolationKind {
    if candidate.parent_side {
        return ViolationKind::StillReferenced;
    }
    let fk = &candidate.fk;
    if fk.columns != fk.parent_columns {
        if let Some(detail) = violation.detail() {
            let child_opening = format!("({})=(", fk.columns.join(", "));
            let parent_opening = format!("({})=(", fk.parent_columns.join(", "));
            match (
                detail.contains(&child_opening),
                detail.contains(&parent_opening),
            ) {
                (true, false) => return ViolationKind::MissingParent,
                (false, true) => return ViolationKind::StillReferenced,
                _ => {}
            }
        }
    }
    let message = violation.database_message();
    let Some((open, close)) = quotes_around(message, reported_table) else {
        return ViolationKind::Undetermined;
    };
    let mentions = message
        .matches(&format!("{open}{}{close}", fk.parent_table))
        .count();
    match (fk.parent_table == reported_table, mentions) {
        (false, 0) | (true, 1) => ViolationKind::MissingParent,
        (false, 1) | (true, 2) => ViolationKind::StillReferenced,
        _ => ViolationKind::Undetermined,
    }
}

/// Occurrences of `name` not glued to other identifier characters.
fn count_delimited(text: &str, name: &str) -> usize {
    if name.is_empty() {
        return 0;
    }
    let is_ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    text.match_indices(name)
        .filter(|(at, _)| {
            !is_ident(text[..*at].chars().next_back())
                && !is_ident(text[at + name.len()..].chars().next())
        })
        .count()
}

/// The quote characters a (translated) message puts around `name`, when it
/// quotes it one way only.
fn quotes_around(message: &str, name: &str) -> Option<(char, char)> {
    if name.is_empty() {
        return None;
    }
    let mut found: Option<(char, char)> = None;
    for (at, _) in message.match_indices(name) {
        let before = message[..at].chars().next_back();
        let after = message[at + name.len()..].chars().next();
        if let (Some(open), Some(close)) = (before, after) {
            if open.is_alphanumeric() || close.is_alphanumeric() || open == '_' || close == '_' {
                continue;
            }
            match found {
                None => found = Some((open, close)),
                Some(quotes) if quotes == (open, close) => {}
                Some(_) => return None,
            }
        }
    }
    found
}

/// Key values from the DETAIL, for the side that failed. The table named in
/// the DETAIL is the relation that held the row, which for a partitioned
/// table may be a partition: both the reported and the declared name are
/// accepted.
pub(crate) fn key_values_from_detail(
    violation: &FkViolation,
    fk: &ForeignKey,
    reported_table: &str,
) -> Option<Vec<Option<String>>> {
    let detail = violation.detail()?;
    let (columns, side, tables) = match violation.kind() {
        ViolationKind::MissingParent => (
            &fk.columns,
            DetailSide::MissingParent,
            vec![fk.parent_table.as_str()],
        ),
        ViolationKind::StillReferenced => (
            &fk.parent_columns,
            DetailSide::StillReferenced,
            vec![reported_table, fk.table.as_str()],
        ),
        ViolationKind::Undetermined => return None,
    };
    tables
        .into_iter()
        .find_map(|table| detail::key_values(detail, columns, side, table))
}

#[cfg(test)]
mod tests {
    use super::{count_delimited, quotes_around};

    #[test]
    fn quotes_of_a_translated_message() {
        let german = "Aktualisieren oder Löschen in Tabelle »customers« verletzt Fremdschlüssel-Constraint »customer« von Tabelle »orders«";
        assert_eq!(quotes_around(german, "orders"), Some(('»', '«')));
        // The constraint's name inside the parent's name is not a mention of it.
        assert_eq!(german.matches("»customers«").count(), 1);
        assert_eq!(german.matches("»customer«").count(), 1);
        assert_eq!(quotes_around("on \"t\" and 't'", "t"), None);
        assert_eq!(quotes_around("nothing here", "orders"), None);
        assert_eq!(quotes_around("x", ""), None);
    }

    #[test]
    fn delimited_counting() {
        assert_eq!(count_delimited("»orders« and »order_items«", "orders"), 1);
        assert_eq!(count_delimited("»order_items«", "order"), 0);
        assert_eq!(count_delimited("\"t\" on \"t\"", "t"), 2);
        assert_eq!(count_delimited("anything", ""), 0);
    }
}

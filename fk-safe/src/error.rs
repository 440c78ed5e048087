//! fk-safe's error type.

use crate::classify;
use crate::fk::FkViolation;

/// Everything that can go wrong in fk-safe, with foreign-key failures
/// singled out so that a handler can match on them.
///
/// `From<diesel::result::Error>` classifies without any I/O, so `?` works in
/// a function returning `Result<_, fk_safe::Error>`:
///
/// ```
/// use diesel::prelude::*;
/// use diesel::result::{DatabaseErrorKind, Error as DieselError};
///
/// fn create_order() -> Result<(), fk_safe::Error> {
///     // Stands in for `diesel::insert_into(orders::table)...execute(conn)?`.
///     let failed: QueryResult<usize> = Err(DieselError::DatabaseError(
///         DatabaseErrorKind::ForeignKeyViolation,
///         Box::new("FOREIGN KEY constraint failed".to_string()),
///     ));
///     failed?;
///     Ok(())
/// }
///
/// match create_order() {
///     Err(fk_safe::Error::ForeignKey(violation)) => println!("{violation}"),
///     Err(other) => panic!("unexpected: {other}"),
///     Ok(()) => panic!("the insert cannot succeed"),
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A foreign-key constraint failed. Boxed to keep `Result<T, Error>` small.
    #[error(transparent)]
    ForeignKey(Box<FkViolation>),
    /// Parents the graph refers to by id do not exist; found before anything
    /// was written, all of them at once, each with its input row.
    #[error("{}", missing_parents_text(.0))]
    MissingParents(Vec<FkViolation>),
    /// A graph that cannot be inserted as it stands; nothing was written.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// Any other database error, unchanged.
    #[error(transparent)]
    Database(diesel::result::Error),
}

impl Error {
    /// The foreign-key violation, if this error is one.
    pub fn as_violation(&self) -> Option<&FkViolation> {
        match self {
            Error::ForeignKey(v) => Some(v),
            Error::MissingParents(all) => all.first(),
            Error::Database(_) | Error::Graph(_) => None,
        }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(error: diesel::result::Error) -> Self {
        match classify::classify(error) {
            Ok(violation) => Error::ForeignKey(Box::new(violation)),
            Err(other) => Error::Database(other),
        }
    }
}

impl From<FkViolation> for Error {
    fn from(violation: FkViolation) -> Self {
        Error::ForeignKey(Box::new(violation))
    }
}

/// Why a graph cannot be inserted.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// Rows link to each other in a circle (a row linked to itself, or to
    /// its own descendant) through foreign keys none of which admits NULL,
    /// so none of them can be written first. Nothing was written. (A circle
    /// through a nullable foreign key is written, that link last.)
    #[error(
        "the graph's links form a cycle: {}. No row in it can be written first: none of these foreign keys admits NULL, so none can be set after the insert. Link one of these rows to another parent, or make one of these foreign-key columns nullable (fk-safe then sets it with an UPDATE after the insert)",
        cycle_text(path)
    )]
    Cycle {
        /// The circle as (model, relation, row) steps, each row linked
        /// through that relation to the next one (the last to the first).
        path: Vec<(&'static str, &'static str, usize)>,
    },
    /// A link that closes a cycle would have to be written after the insert
    /// on a row whose key is composite; the `UPDATE` finds rows by a single
    /// key column. Nothing was written.
    #[error(
        "{model} row #{row} closes a cycle through `{relation}`, but its key is composite, so that link cannot be set after the insert; nothing was written. Close the cycle through a model with a single-column key, or insert these rows in a transaction of your own with the constraint DEFERRABLE"
    )]
    CompositeKeyLink {
        /// The model of the row.
        model: &'static str,
        /// The relation that closes the cycle.
        relation: &'static str,
        /// The row, as added.
        row: usize,
    },
    /// A handle of another graph was linked into this one.
    #[error("a handle of another graph ({model}) was linked into this graph; handles belong to the graph that made them")]
    ForeignHandle {
        /// The model of the handle.
        model: &'static str,
    },
    /// A handle names a row its graph does not hold. Nothing was written.
    #[error(
        "a handle names {model} row #{row}, which this graph does not hold; nothing was written"
    )]
    UnknownRow {
        /// The model of the handle.
        model: &'static str,
        /// The row (or look-up) the handle names.
        row: usize,
    },
    /// A link names a relation the model does not have (a `Relation` not
    /// made by the derive). Nothing was written.
    #[error("{model} has no relation #{relation}; link through the constants the derive generates on the model; nothing was written")]
    UnknownRelation {
        /// The model.
        model: &'static str,
        /// The relation's index.
        relation: usize,
    },
    /// A foreign key of a row was linked to two different parents, so the
    /// graph does not say which one is meant. Nothing was written.
    #[error("{model} row #{row} was linked through `{relation}` to two different parents; link each foreign key once. Nothing was written")]
    LinkedTwice {
        /// The model.
        model: &'static str,
        /// The relation linked twice.
        relation: &'static str,
        /// The row, as added.
        row: usize,
    },
    /// The database returned another number of keys than rows were written.
    #[error("the database returned {returned} keys for {written} rows of {model}")]
    KeyCount {
        /// The model.
        model: &'static str,
        /// Rows written.
        written: usize,
        /// Keys returned.
        returned: usize,
    },
    /// A get-or-insert row was neither inserted nor found by its natural key:
    /// it conflicts with a unique constraint other than its natural key's.
    #[error(
        "{model} row #{row} was neither inserted nor found by its natural key ({natural_key}); it probably conflicts with another unique constraint than the natural key's"
    )]
    NaturalKeyNotFound {
        /// The model.
        model: &'static str,
        /// The row, as added.
        row: usize,
        /// The natural key's values.
        natural_key: String,
    },
    /// A natural key (or a parent key) matched several rows, so it does not
    /// say which row is meant: the columns are not unique under the
    /// database's comparison.
    #[error(
        "a natural key of {model} matched several rows (keys {}); declare natural_key(..) on columns with a UNIQUE constraint",
        keys.join(", ")
    )]
    NaturalKeyAmbiguous {
        /// The model.
        model: &'static str,
        /// Two of the keys it matched.
        keys: Vec<String>,
    },
    /// The keys one statement generated did not pair with its rows as the
    /// table's catalog promised (a duplicate, or on SQLite a gap between
    /// rowids that should be consecutive), so they were not matched to the
    /// rows by guess. Nothing was written.
    #[error(
        "the keys generated for {model} did not come back in the order the table's catalog promised, so they were not matched to the rows written; nothing was written"
    )]
    KeysOutOfOrder {
        /// The model.
        model: &'static str,
    },
    /// A row looked up by its natural key after a multi-row insert had
    /// another key than it was paired with: the database did not generate
    /// keys in row order (a sequence changed by another session while the
    /// graph was written, say). Nothing was written.
    #[error(
        "{model} row #{row} was paired with the generated key {paired}, but its natural key finds the row {found}; the database did not generate keys in row order, so nothing was written"
    )]
    PairingMismatch {
        /// The model.
        model: &'static str,
        /// The row, as added.
        row: usize,
        /// The key the row was paired with.
        paired: String,
        /// The key its natural key found.
        found: String,
    },
    /// A row that brings its own key was stored under another one (a
    /// trigger or rule replaced it), so children linked to it would point
    /// elsewhere. Nothing was written.
    #[error(
        "{model} row #{row} was written with the key {given}, but the database stored it as {stored} (a trigger or rule replaces keys of this table); nothing was written"
    )]
    KeyReplaced {
        /// The model.
        model: &'static str,
        /// The row, as added.
        row: usize,
        /// The key the row brought.
        given: String,
        /// The key the database stored.
        stored: String,
    },
    /// A row was linked to a parent through a foreign key that, in the
    /// database, references other columns of the parent than its key (a
    /// UNIQUE column, or the key's columns in another order): the link
    /// would fill it with the parent's key, a value of another column.
    /// Nothing was written.
    #[error(
        "{model}.{relation} references ({}) of {parent}'s table in the database, not its key ({}), so linking it to a {parent} row would fill it with the wrong value; nothing was written. Set the field to the referenced value instead of linking, or make the foreign key reference the key",
        referenced.join(", "),
        key.join(", ")
    )]
    LinkNotToKey {
        /// The model of the linked row.
        model: &'static str,
        /// The relation it was linked through.
        relation: &'static str,
        /// The parent's model.
        parent: &'static str,
        /// The parent columns the database's constraint references.
        referenced: Vec<String>,
        /// The parent's key columns, which a link fills in.
        key: Vec<String>,
    },
    /// A generated key does not fit the model's key type.
    #[error("the generated key {key} of {model} does not fit its key type")]
    KeyType {
        /// The model.
        model: &'static str,
        /// The key as returned.
        key: String,
    },
}

fn cycle_text(path: &[(&'static str, &'static str, usize)]) -> String {
    let mut text: Vec<String> = path
        .iter()
        .map(|(model, relation, row)| format!("{model} row #{row} via `{relation}`"))
        .collect();
    if let Some((model, _, row)) = path.first() {
        text.push(format!("{model} row #{row}"));
    }
    text.join(" -> ")
}

fn missing_parents_text(all: &[FkViolation]) -> String {
    const SHOWN: usize = 20;
    let mut text = format!(
        "{} referenced parent row{} do{} not exist; nothing was written:",
        all.len(),
        if all.len() == 1 { "" } else { "s" },
        if all.len() == 1 { "es" } else { "" },
    );
    for violation in all.iter().take(SHOWN) {
        text.push_str("\n  - ");
        text.push_str(&violation.to_string());
    }
    if all.len() > SHOWN {
        text.push_str(&format!("\n  ... and {} more", all.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cycle is only refused when none of its foreign keys admits NULL, so
    /// the advice may not be to leave one of them NULL.
    #[test]
    fn a_refused_cycle_does_not_advise_null() {
        let error = GraphError::Cycle {
            path: vec![("NewA", "b_id", 0), ("NewB", "a_id", 0)],
        };
        let text = error.to_string();
        assert!(
            text.starts_with(
                "the graph's links form a cycle: NewA row #0 via `b_id` -> NewB row #0 via `a_id` -> NewA row #0. \
                 No row in it can be written first: none of these foreign keys admits NULL"
            ),
            "{text}"
        );
        assert!(!text.contains("unlinked (NULL)"), "{text}");
    }
}

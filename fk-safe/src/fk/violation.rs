//! The public shape of a foreign-key failure.

use crate::sql::display_ident;
use std::fmt;

use super::foreign_key::{Deferrability, FkAction, ForeignKey};

/// Which side of a foreign key a failed write was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ViolationKind {
    /// A child row points at a parent row that does not exist (an insert or
    /// an update of the child's foreign-key columns).
    MissingParent,
    /// A parent row was deleted, or its key changed, while child rows still
    /// reference it (NO ACTION and RESTRICT constraints).
    StillReferenced,
    /// The database did not say which side failed and fk-safe had nothing to
    /// tell it from. This happens for a bare SQLite error, or a PostgreSQL
    /// error in a translated language before the catalog was consulted. Run
    /// the write through [`FkCatalog::transaction`](crate::FkCatalog::transaction)
    /// or explain the error with [`FkCatalog::explain`](crate::FkCatalog::explain)
    /// to get a definite kind.
    Undetermined,
}

/// The database a violation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Database {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

/// Where in fk-safe's own input a violation came from, when it came from a
/// write fk-safe made (for example a graph insert).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RowOrigin {
    /// The model's Rust name, as its struct is named (`NewOrder`).
    pub model: &'static str,
    /// The relation (foreign key) of the model that failed, when known.
    pub relation: Option<&'static str>,
    /// The position of the row among the model's rows in the caller's
    /// input, when it could be told (the database names only one failing
    /// key, and not always its values).
    pub row: Option<usize>,
}

/// What is known of the constraint behind a violation, part by part; what
/// [`FkViolation::declare`] merges in. `Default` knows nothing.
#[derive(Debug, Default)]
pub(crate) struct Declaration {
    pub(crate) constraint: Option<String>,
    pub(crate) schema: Option<String>,
    pub(crate) child_table: Option<String>,
    pub(crate) child_columns: Vec<String>,
    pub(crate) parent_schema: Option<String>,
    pub(crate) parent_table: Option<String>,
    pub(crate) parent_columns: Vec<String>,
    pub(crate) on_delete: Option<FkAction>,
    pub(crate) on_update: Option<FkAction>,
    pub(crate) deferrability: Option<Deferrability>,
}

impl From<&ForeignKey> for Declaration {
    fn from(fk: &ForeignKey) -> Self {
        Declaration {
            constraint: fk.name.clone(),
            schema: Some(fk.schema.clone()),
            child_table: Some(fk.table.clone()),
            child_columns: fk.columns.clone(),
            parent_schema: Some(fk.parent_schema.clone()),
            parent_table: Some(fk.parent_table.clone()),
            parent_columns: fk.parent_columns.clone(),
            on_delete: Some(fk.on_delete),
            on_update: Some(fk.on_update),
            deferrability: fk.deferrability,
        }
    }
}

/// A foreign-key failure, explained.
///
/// Built from any [`diesel::result::Error`] that is a foreign-key violation
/// (see [`Error`](crate::Error)), and completed from the live catalog by
/// [`FkCatalog::explain`](crate::FkCatalog::explain) or
/// [`FkCatalog::transaction`](crate::FkCatalog::transaction). Every field that
/// the database did not reveal and fk-safe could not know is `None` or empty;
/// nothing is guessed.
///
/// ```
/// use diesel::result::{DatabaseErrorKind, Error as DieselError};
/// use fk_safe::{Error, ViolationKind};
///
/// // What SQLite reports for every foreign-key failure:
/// let raw = DieselError::DatabaseError(
///     DatabaseErrorKind::ForeignKeyViolation,
///     Box::new("FOREIGN KEY constraint failed".to_string()),
/// );
/// match Error::from(raw) {
///     Error::ForeignKey(v) => {
///         assert_eq!(v.kind(), ViolationKind::Undetermined);
///         assert!(v.child_table().is_none()); // SQLite does not say; explain() finds out
///     }
///     other => panic!("not a foreign-key error: {other}"),
/// }
/// ```
#[derive(Debug)]
pub struct FkViolation {
    kind: ViolationKind,
    database: Database,
    constraint: Option<String>,
    schema: Option<String>,
    child_table: Option<String>,
    child_columns: Vec<String>,
    parent_schema: Option<String>,
    parent_table: Option<String>,
    parent_columns: Vec<String>,
    key_values: Option<Vec<Option<String>>>,
    on_delete: Option<FkAction>,
    on_update: Option<FkAction>,
    deferrability: Option<Deferrability>,
    origin: Option<RowOrigin>,
    /// The server's DETAIL line, kept verbatim (it may be translated).
    detail: Option<String>,
    /// Why the catalog could not be read while explaining this violation.
    catalog_error: Option<String>,
    /// Why fk-safe could not say more, when the explanation is incomplete.
    note: Option<String>,
    /// The key values are the parent's natural key (a look-up that found
    /// nothing), not the child's foreign-key values.
    looked_up: bool,
    /// The database error; `None` when fk-safe found the violation itself
    /// before writing (a referenced parent that does not exist).
    source: Option<diesel::result::Error>,
}

impl FkViolation {
    pub(crate) fn new(
        kind: ViolationKind,
        database: Database,
        source: diesel::result::Error,
    ) -> Self {
        FkViolation {
            kind,
            database,
            constraint: None,
            schema: None,
            child_table: None,
            child_columns: Vec::new(),
            parent_schema: None,
            parent_table: None,
            parent_columns: Vec::new(),
            key_values: None,
            on_delete: None,
            on_update: None,
            deferrability: None,
            origin: None,
            detail: None,
            catalog_error: None,
            note: None,
            looked_up: false,
            source: Some(source),
        }
    }

    /// A violation fk-safe found by looking before writing.
    pub(crate) fn found_before_writing(kind: ViolationKind, database: Database) -> Self {
        let mut violation = FkViolation::new(kind, database, diesel::result::Error::NotFound);
        violation.source = None;
        violation
    }

    /// Completes the violation with what is known of its constraint: each
    /// part the declaration knows replaces the violation's, each it does not
    /// know leaves it as it was (a constraint name the error reported stays
    /// when the declaration has none, as on SQLite).
    pub(crate) fn declare(&mut self, declaration: Declaration) {
        fn replace<T>(field: &mut Option<T>, known: Option<T>) {
            if known.is_some() {
                *field = known;
            }
        }
        fn replace_list(field: &mut Vec<String>, known: Vec<String>) {
            if !known.is_empty() {
                *field = known;
            }
        }
        replace(&mut self.constraint, declaration.constraint);
        replace(&mut self.schema, declaration.schema);
        replace(&mut self.child_table, declaration.child_table);
        replace_list(&mut self.child_columns, declaration.child_columns);
        replace(&mut self.parent_schema, declaration.parent_schema);
        replace(&mut self.parent_table, declaration.parent_table);
        replace_list(&mut self.parent_columns, declaration.parent_columns);
        replace(&mut self.on_delete, declaration.on_delete);
        replace(&mut self.on_update, declaration.on_update);
        replace(&mut self.deferrability, declaration.deferrability);
    }

    /// Decides (or withdraws) which side failed.
    pub(crate) fn set_kind(&mut self, kind: ViolationKind) {
        self.kind = kind;
    }

    /// The failing key's values, or `None` when they are not known.
    pub(crate) fn set_key_values(&mut self, values: Option<Vec<Option<String>>>) {
        self.key_values = values;
    }

    /// The failing key is a parent's natural key that a look-up did not
    /// find, not a child's foreign-key values.
    pub(crate) fn set_looked_up_key(&mut self, values: Vec<Option<String>>) {
        self.key_values = Some(values);
        self.looked_up = true;
    }

    /// The server's DETAIL line, verbatim.
    pub(crate) fn set_detail(&mut self, detail: Option<String>) {
        self.detail = detail;
    }

    /// Why the explanation is incomplete.
    pub(crate) fn set_note(&mut self, note: String) {
        self.note = Some(note);
    }

    /// Why the catalog could not be read, or `None` once it was.
    pub(crate) fn set_catalog_error(&mut self, error: Option<String>) {
        self.catalog_error = error;
    }

    /// Which side of the foreign key failed.
    pub fn kind(&self) -> ViolationKind {
        self.kind
    }

    /// The database the violation came from.
    pub fn database(&self) -> Database {
        self.database
    }

    /// The constraint's name. PostgreSQL always names it; SQLite never does.
    pub fn constraint(&self) -> Option<&str> {
        self.constraint.as_deref()
    }

    /// The schema of the referencing (child) table (`main` on SQLite).
    /// `None` on PostgreSQL when several schemas hold tables and constraints
    /// of the same names and the error does not say which one failed
    /// (Diesel does not expose the error's schema field).
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// The referencing (child) table, whichever side the failed write was on.
    pub fn child_table(&self) -> Option<&str> {
        self.child_table.as_deref()
    }

    /// The foreign-key columns of the child table, in constraint order.
    pub fn child_columns(&self) -> &[String] {
        &self.child_columns
    }

    /// The schema of the referenced (parent) table.
    pub fn parent_schema(&self) -> Option<&str> {
        self.parent_schema.as_deref()
    }

    /// The referenced (parent) table.
    pub fn parent_table(&self) -> Option<&str> {
        self.parent_table.as_deref()
    }

    /// The referenced columns of the parent table, in constraint order.
    pub fn parent_columns(&self) -> &[String] {
        &self.parent_columns
    }

    /// The key that failed, one value per column in constraint order
    /// (`None` is SQL NULL), as the database prints it. Absent when the
    /// database did not reveal it (for example without SELECT privilege) or
    /// when its text was ambiguous.
    pub fn key_values(&self) -> Option<&[Option<String>]> {
        self.key_values.as_deref()
    }

    /// The constraint's `ON DELETE` action, when known.
    pub fn on_delete(&self) -> Option<FkAction> {
        self.on_delete
    }

    /// The constraint's `ON UPDATE` action, when known.
    pub fn on_update(&self) -> Option<FkAction> {
        self.on_update
    }

    /// Whether and how the constraint can be deferred, when known.
    pub fn deferrability(&self) -> Option<Deferrability> {
        self.deferrability
    }

    /// The model and input row, when the failing write was fk-safe's own.
    pub fn origin(&self) -> Option<&RowOrigin> {
        self.origin.as_ref()
    }

    /// The server's DETAIL text, verbatim (possibly translated).
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// Why fk-safe could not complete this violation from the catalog (for
    /// example: explaining inside a PostgreSQL transaction that the failure
    /// already aborted). `None` when the catalog was read or not needed.
    pub fn catalog_error(&self) -> Option<&str> {
        self.catalog_error.as_deref()
    }

    /// Why fk-safe could not explain this violation further (for example,
    /// on SQLite, replaying the failed work broke several foreign keys and
    /// SQLite does not say which failed first; on PostgreSQL, several schemas
    /// hold the same table and constraint names with different definitions
    /// and nothing in the error tells which one failed, so only the fields
    /// they agree on are filled). `None` when nothing is missing or nothing
    /// more is known.
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// The Diesel error this violation was built from; `None` when fk-safe
    /// found the violation before writing (see [`insert_graph`](crate::insert_graph)).
    pub fn diesel_error(&self) -> Option<&diesel::result::Error> {
        self.source.as_ref()
    }

    /// Gives back the Diesel error this violation was built from.
    pub fn into_diesel_error(self) -> Option<diesel::result::Error> {
        self.source
    }

    /// The database's own message, as it came (possibly translated).
    pub fn database_message(&self) -> &str {
        match &self.source {
            Some(diesel::result::Error::DatabaseError(_, info)) => info.message(),
            _ => "",
        }
    }

    /// Records which model and input row caused the violation.
    pub fn with_origin(mut self, origin: RowOrigin) -> Self {
        self.origin = Some(origin);
        self
    }

    /// Records which model and input row caused the violation.
    pub(crate) fn set_origin(&mut self, origin: RowOrigin) {
        self.origin = Some(origin);
    }

    /// The key as `table.col = value` or `table.(a, b) = (x, y)`.
    fn key_phrase(
        &self,
        table: Option<&str>,
        columns: &[String],
        with_values: bool,
    ) -> Option<String> {
        if columns.is_empty() {
            return None;
        }
        let table = table.map(display_ident).unwrap_or_else(|| "?".into());
        let columns_text: Vec<String> = columns.iter().map(|c| display_ident(c)).collect();
        let values_text = self
            .key_values
            .as_ref()
            .filter(|_| with_values)
            .map(|values| {
                values
                    .iter()
                    .map(|v| display_value(v.as_deref()))
                    .collect::<Vec<_>>()
            });
        Some(match (columns_text.len(), values_text) {
            (1, Some(values)) if values.len() == 1 => {
                format!("{table}.{} = {}", columns_text[0], values[0])
            }
            (1, _) => format!("{table}.{}", columns_text[0]),
            (_, Some(values)) if values.len() == columns_text.len() => {
                format!(
                    "{table}.({}) = ({})",
                    columns_text.join(", "),
                    values.join(", ")
                )
            }
            _ => format!("{table}.({})", columns_text.join(", ")),
        })
    }
}

/// PostgreSQL's DETAIL for a half-NULL key under MATCH FULL (untranslated).
const MATCH_FULL_DETAIL: &str = "MATCH FULL does not allow mixing of null and nonnull key values.";

/// A key value as Display shows it: integers bare, NULL as `NULL`, anything
/// else quoted and escaped (`"x, y"`), so that a composite key `(1, "x, y")`
/// cannot be read as three values, nor the text `NULL` as SQL NULL.
fn display_value(value: Option<&str>) -> String {
    match value {
        None => "NULL".to_string(),
        Some(text) if is_integer(text) => text.to_string(),
        Some(text) => format!("{text:?}"),
    }
}

fn is_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `text` with its first letter in upper case, for a sentence of its own.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl fmt::Display for FkViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let child = self.child_table.as_deref();
        let parent = self.parent_table.as_deref();
        let constraint = match &self.constraint {
            Some(name) => format!(" (constraint {})", display_ident(name)),
            None => String::new(),
        };
        if let Some(origin) = &self.origin {
            match origin.row {
                Some(row) => write!(f, "{} row #{row}", origin.model)?,
                None => write!(f, "{}", origin.model)?,
            }
            if let Some(relation) = origin.relation {
                write!(f, " (relation `{relation}`)")?;
            }
            f.write_str(": ")?;
        }
        match self.kind {
            ViolationKind::MissingParent if self.detail.as_deref() == Some(MATCH_FULL_DETAIL) => {
                let key = self
                    .key_phrase(child, &self.child_columns, false)
                    .unwrap_or_else(|| "the foreign key".into());
                write!(
                    f,
                    "{key} mixes NULL and non-NULL values, which MATCH FULL forbids{constraint}. Fix: set every column of the key, or none"
                )?;
            }
            ViolationKind::MissingParent => {
                let key = self.key_phrase(child, &self.child_columns, true);
                let target = self
                    .key_phrase(parent, &self.parent_columns, false)
                    .or_else(|| parent.map(display_ident));
                let looked_up = self
                    .looked_up
                    .then(|| self.key_phrase(parent, &self.parent_columns, true))
                    .flatten();
                match (looked_up, key, target) {
                    // A look-up of an existing parent that found nothing.
                    (Some(parent_key), _, _) => {
                        write!(f, "no row {parent_key} exists")?;
                        if let Some(child_key) = self.key_phrase(child, &self.child_columns, false)
                        {
                            write!(f, " (looked up for {child_key})")?;
                        }
                    }
                    (None, Some(key), Some(target)) => {
                        write!(f, "{key} has no matching row in {target}{constraint}")?
                    }
                    _ => write!(
                        f,
                        "a row in {} points at a parent row that does not exist{constraint}",
                        child
                            .map(display_ident)
                            .unwrap_or_else(|| "a child table".into())
                    )?,
                }
                match parent.map(display_ident) {
                    Some(parent_name) => write!(
                        f,
                        ". Fix: insert the {parent_name} row first (in the same transaction), or use a key that exists in {parent_name}"
                    )?,
                    // Not yet explained from the catalog (FkCatalog::explain).
                    None => f.write_str(
                        ". Fix: insert the parent row first (in the same transaction), or use a key that exists in the parent table",
                    )?,
                }
            }
            ViolationKind::StillReferenced => {
                let key = self
                    .key_phrase(parent, &self.parent_columns, true)
                    .or_else(|| parent.map(display_ident));
                let from = self
                    .key_phrase(child, &self.child_columns, false)
                    .or_else(|| child.map(display_ident));
                match (key, from) {
                    (Some(key), Some(from)) => write!(
                        f,
                        "cannot delete or re-key {key}: it is still referenced from {from}{constraint}"
                    )?,
                    (None, Some(from)) => write!(
                        f,
                        "cannot delete or re-key a parent row: it is still referenced from {from}{constraint}"
                    )?,
                    _ => write!(
                        f,
                        "cannot delete or re-key a parent row that is still referenced{constraint}"
                    )?,
                }
                // The failure may come from a delete or a key update; both
                // actions are shown, since either may be the one to change.
                match (self.on_delete, self.on_update) {
                    (Some(on_delete), Some(on_update)) => {
                        write!(f, " [ON DELETE {on_delete}, ON UPDATE {on_update}]")?
                    }
                    (Some(on_delete), None) => write!(f, " [ON DELETE {on_delete}]")?,
                    (None, Some(on_update)) => write!(f, " [ON UPDATE {on_update}]")?,
                    (None, None) => {}
                }
                let child_name = child.map(display_ident).unwrap_or_else(|| "child".into());
                write!(
                    f,
                    ". Fix: delete or re-point the {child_name} rows first, or declare the foreign key ON DELETE CASCADE / SET NULL (ON UPDATE CASCADE when the parent's key changes)"
                )?;
            }
            ViolationKind::Undetermined => {
                write!(f, "foreign key constraint failed{constraint}")?;
                if let Some(child) = child {
                    write!(f, " on {}", display_ident(child))?;
                }
                let mut sentence_ended = false;
                if let Some(detail) = &self.detail {
                    write!(f, ": {detail}")?;
                    sentence_ended = detail.ends_with('.');
                }
                f.write_str(if sentence_ended { " " } else { ". " })?;
                match &self.note {
                    Some(note) => f.write_str(&capitalized(note))?,
                    None => f.write_str(
                        "The database did not say which row or parent; run the write through FkCatalog::transaction (or FkCatalog::explain) to find out",
                    )?,
                }
            }
        }
        if let (Some(note), false) = (&self.note, self.kind == ViolationKind::Undetermined) {
            write!(f, " ({note})")?;
        }
        if let Some(error) = &self.catalog_error {
            write!(f, " (the foreign-key catalog could not be read: {error})")?;
        }
        Ok(())
    }
}

impl std::error::Error for FkViolation {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(kind: ViolationKind) -> FkViolation {
        FkViolation::found_before_writing(kind, Database::Postgres)
    }

    #[test]
    fn text_key_values_are_quoted_and_integers_are_not() {
        let mut v = violation(ViolationKind::MissingParent);
        v.child_table = Some("stock".into());
        v.child_columns = vec!["tenant_id".into(), "code".into()];
        v.parent_table = Some("warehouses".into());
        v.parent_columns = vec!["tenant_id".into(), "code".into()];
        v.key_values = Some(vec![Some("1".into()), Some("x, y".into())]);
        assert!(
            v.to_string()
                .starts_with(r#"stock.(tenant_id, code) = (1, "x, y") has no matching row"#),
            "{v}"
        );
        v.key_values = Some(vec![Some("-7".into()), Some(r#"say "hi"\"#.into())]);
        assert!(
            v.to_string()
                .starts_with(r#"stock.(tenant_id, code) = (-7, "say \"hi\"\\")"#),
            "{v}"
        );
        v.key_values = Some(vec![None, Some("NULL".into())]);
        assert!(
            v.to_string()
                .starts_with(r#"stock.(tenant_id, code) = (NULL, "NULL")"#),
            "{v}"
        );
        v.child_columns = vec!["code".into()];
        v.parent_columns = vec!["code".into()];
        v.key_values = Some(vec![Some("".into())]);
        assert!(v.to_string().starts_with(r#"stock.code = "" has"#), "{v}");
    }

    #[test]
    fn a_note_after_a_full_stop_starts_with_a_capital() {
        let mut v = violation(ViolationKind::Undetermined);
        v.child_table = Some("orders".into());
        v.note = Some("replaying the work found nothing".into());
        assert_eq!(
            v.to_string(),
            "foreign key constraint failed on orders. Replaying the work found nothing"
        );
        // A DETAIL ends its own sentence.
        v.detail = Some("Key (a)=(1) is not present in table \"t\".".into());
        assert_eq!(
            v.to_string(),
            "foreign key constraint failed on orders: Key (a)=(1) is not present in table \"t\". Replaying the work found nothing"
        );
    }
}

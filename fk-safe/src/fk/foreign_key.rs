//! A foreign-key constraint as the database declares it: its tables and
//! columns, what it does when a parent goes, and when it is checked.

use std::fmt;

/// One foreign-key constraint, as the database declares it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ForeignKey {
    /// The constraint's name (`None` on SQLite, which does not keep it).
    pub name: Option<String>,
    /// Schema of the referencing (child) table (`main` on SQLite).
    pub schema: String,
    /// The referencing (child) table. For a partition, the declared table.
    pub table: String,
    /// The referencing columns, in constraint order.
    pub columns: Vec<String>,
    /// Schema of the referenced (parent) table.
    pub parent_schema: String,
    /// The referenced (parent) table.
    pub parent_table: String,
    /// The referenced columns, in constraint order.
    pub parent_columns: Vec<String>,
    /// Whether each referencing column (in the order of
    /// [`columns`](Self::columns)) may be written NULL, as far as its
    /// declaration says: on PostgreSQL the column has no `NOT NULL`
    /// (`pg_attribute.attnotnull`), is not generated, and is not of a domain
    /// type (a domain may refuse NULL; it is counted as refusing); on SQLite
    /// it has no `NOT NULL` and is not a primary key column that SQLite
    /// keeps from NULL (an `INTEGER PRIMARY KEY`, the rowid's alias, or any
    /// primary key column of a `WITHOUT ROWID` table). A `CHECK` constraint
    /// or a trigger that refuses NULL is not read. A row whose key has a
    /// NULL column references nothing under `MATCH SIMPLE`, which is how a
    /// cycle of tables can be written one row at a time.
    pub nullable: Vec<bool>,
    /// What happens to children when the parent row is deleted.
    pub on_delete: FkAction,
    /// What happens to children when the parent's key changes.
    pub on_update: FkAction,
    /// When the constraint is checked. `None` on SQLite, whose catalog
    /// (`PRAGMA foreign_key_list`) does not record it.
    pub deferrability: Option<Deferrability>,
    /// How a key with NULL columns is matched.
    pub match_type: MatchType,
    /// Whether the database has checked every existing row against the
    /// constraint: `false` for a PostgreSQL constraint added `NOT VALID`
    /// and not validated since (it holds for new rows only). Always `true`
    /// on SQLite, which checks nothing of existing rows either way.
    pub validated: bool,
}

/// How a foreign key with NULL in some of its columns is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MatchType {
    /// `MATCH SIMPLE` (the default): a key with any NULL column references
    /// nothing and is never an orphan.
    Simple,
    /// `MATCH FULL`: all columns NULL or none; a key with only some NULL
    /// columns is refused.
    Full,
    /// `MATCH PARTIAL`, which PostgreSQL parses but does not implement.
    Partial,
}

/// What the database does to referencing rows when the referenced row is
/// deleted or its key is updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FkAction {
    /// `NO ACTION`: the write fails at the end of the statement (or, for a
    /// deferred constraint, at commit).
    NoAction,
    /// `RESTRICT`: the write fails at once, even if the constraint is deferred.
    Restrict,
    /// `CASCADE`: referencing rows are deleted or re-keyed too.
    Cascade,
    /// `SET NULL`: the referencing columns are set to NULL.
    SetNull,
    /// `SET DEFAULT`: the referencing columns are set to their defaults.
    SetDefault,
}

impl FkAction {
    /// The SQL spelling of the action, as in `ON DELETE CASCADE`.
    pub fn as_sql(self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }

    /// Parses PostgreSQL's `pg_constraint.confdeltype` code or SQLite's
    /// `PRAGMA foreign_key_list` spelling; `None` for anything else.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "A" | "NO ACTION" => Some(FkAction::NoAction),
            "R" | "RESTRICT" => Some(FkAction::Restrict),
            "C" | "CASCADE" => Some(FkAction::Cascade),
            "N" | "SET NULL" => Some(FkAction::SetNull),
            "D" | "SET DEFAULT" => Some(FkAction::SetDefault),
            _ => None,
        }
    }
}

impl fmt::Display for FkAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_sql())
    }
}

/// When the database checks a constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Deferrability {
    /// Checked at the end of every statement; `SET CONSTRAINTS` cannot move it.
    NotDeferrable,
    /// `DEFERRABLE INITIALLY IMMEDIATE`: checked per statement unless deferred.
    InitiallyImmediate,
    /// `DEFERRABLE INITIALLY DEFERRED`: checked at commit.
    InitiallyDeferred,
}

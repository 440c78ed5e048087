//! Reading the facts a schema audit needs beyond the foreign keys: each
//! table's indexes, its columns' types, and where a model's table resolves.

use diesel::connection::LoadConnection;
use diesel::QueryResult;

/// How a backend reads the facts of a schema audit.
pub trait ReadAudit: diesel::backend::Backend + Sized {
    /// Whether the live catalog can declare a foreign key whose parent
    /// table or columns do not exist, or whose parent columns no unique
    /// index covers: SQLite accepts `REFERENCES ghosts` and fails every
    /// later write to the child ("no such table", "foreign key mismatch");
    /// PostgreSQL refuses it, so there a missing parent means the
    /// remembered catalog is out of date.
    const DANGLING_FOREIGN_KEYS: bool;

    /// Every index of the tables of `schemas` (all schemas when empty),
    /// sorted by schema, table and name. On SQLite a table's rowid (an
    /// `INTEGER PRIMARY KEY`) counts as its primary key's index.
    fn list_indexes<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        schemas: &[String],
    ) -> QueryResult<Vec<IndexFacts>>;

    /// Every column of the tables of `schemas` (all schemas when empty),
    /// sorted by schema, table and position.
    fn list_columns<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        schemas: &[String],
    ) -> QueryResult<Vec<ColumnFacts>>;

    /// The table an unquoted name reaches from this connection, as (schema,
    /// table) spelled as created: `schema.table` when a schema is given,
    /// else the table the session's name resolution finds (PostgreSQL's
    /// `search_path`); `None` when there is none. An error when the name is
    /// outside what fk-safe reads (an attached SQLite database).
    fn resolve_table<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        schema: Option<&str>,
        table: &str,
    ) -> QueryResult<Option<(String, String)>>;

    /// Which of `schemas` exist (on SQLite only `main` does, the one
    /// schema fk-safe reads), so that a misspelt schema is refused rather
    /// than audited as empty.
    fn existing_schemas<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        schemas: &[String],
    ) -> QueryResult<Vec<String>>;

    /// The statement that creates an index on `columns` of
    /// `schema.table`, every name quoted.
    fn create_index_sql(schema: &str, table: &str, columns: &[String]) -> String;

    /// How to declare a foreign key from `columns` of `child` (schema,
    /// table) to `parent_columns` of `parent`: the statement where the
    /// database can add one to an existing table, else what to do.
    fn add_foreign_key_fix(
        child: (&str, &str),
        columns: &[String],
        parent: (&str, &str),
        parent_columns: &[String],
    ) -> String;

    /// Whether two column or table names (as the catalog spells them) name
    /// the same thing: exactly equal on PostgreSQL, equal but for ASCII
    /// case on SQLite.
    fn same_name(a: &str, b: &str) -> bool;
}

/// One index of a table, as the catalog declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFacts {
    /// The table's schema.
    pub schema: String,
    /// The indexed table.
    pub table: String,
    /// The index's name.
    pub name: String,
    /// Its key columns in index order (not `INCLUDE` columns), `None` for
    /// an expression.
    pub columns: Vec<Option<String>>,
    /// For each of [`columns`](Self::columns), whether the index compares
    /// it in the column's own collation, as the foreign key's lookups do
    /// (an index `COLLATE "C"` on a column of another collation cannot
    /// serve them). Always `true` on SQLite, whose catalog does not give a
    /// column's collation.
    pub collation_matches: Vec<bool>,
    /// The access method (`btree`, `hash`, `gin`, ..; always `btree` on
    /// SQLite).
    pub method: String,
    /// Whether it has a `WHERE` clause (a partial index).
    pub partial: bool,
    /// Whether the database uses it (PostgreSQL: `indisvalid`,
    /// `indisready` and `indislive`; a failed `CREATE INDEX CONCURRENTLY`
    /// leaves an invalid one behind).
    pub valid: bool,
    /// Whether it is the table's primary key.
    pub primary: bool,
    /// Whether it is unique (a primary key is).
    pub unique: bool,
}

/// One column of a table, as the catalog declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnFacts {
    /// The table's schema.
    pub schema: String,
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// Its declared type as the database prints it (PostgreSQL's
    /// `format_type`, SQLite's declaration as written).
    pub declared: String,
    /// What decides how its values compare: the type itself on
    /// PostgreSQL, the type affinity on SQLite (`INTEGER`, `TEXT`, `BLOB`,
    /// `REAL`, `NUMERIC`). Two columns compare alike when these are equal.
    pub compared_as: String,
    /// Whether it is part of the table's primary key.
    pub primary_key: bool,
}

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

    /// What [`ColumnFacts::compared_as`] holds, as a type-mismatch finding
    /// names it: `affinity` on SQLite, `base type` on PostgreSQL (a
    /// domain's, with its type modifier).
    const COMPARED_AS: &'static str;

    /// Every index of the tables of `schemas` (all schemas when empty),
    /// sorted by schema, table and name. On SQLite a table's rowid (an
    /// `INTEGER PRIMARY KEY`) counts as its primary key's index.
    fn list_indexes<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        schemas: &[String],
    ) -> QueryResult<Vec<IndexFacts>>;

    /// Every column of the tables of `schemas` (all schemas when empty),
    /// partitions included (a foreign key may reference or leave from one
    /// directly), sorted by schema, table and position.
    fn list_columns<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        schemas: &[String],
    ) -> QueryResult<Vec<ColumnFacts>>;

    /// Every leaf partition (one holding rows: not itself partitioned) of
    /// the partitioned tables of `schemas` (all schemas when empty), at
    /// any depth and wherever the partition's own schema is, sorted. None
    /// on SQLite, which has no partitions.
    fn list_partitions<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        schemas: &[String],
    ) -> QueryResult<Vec<PartitionFacts>>;

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

    /// The statement that creates an index named by [`index_name`] on
    /// `columns` of `schema.table`, every name quoted.
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
    /// What decides how its values compare: on PostgreSQL the base type
    /// with its modifier (`format_type`; a domain resolved to the type it
    /// is over, through domains over domains, with the modifier the
    /// innermost domain gives, as PostgreSQL's own `getBaseTypeAndTypmod`
    /// does), the type affinity on SQLite (`INTEGER`, `TEXT`, `BLOB`,
    /// `REAL`, `NUMERIC`). Two columns compare alike when these are equal.
    pub compared_as: String,
    /// Whether it is part of the table's primary key.
    pub primary_key: bool,
    /// Whether its table is a partition (its columns are its partitioned
    /// table's).
    pub partition: bool,
}

/// A leaf partition of a partitioned table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PartitionFacts {
    /// The partitioned table's schema.
    pub schema: String,
    /// The partitioned table (the root the foreign key is declared on, or
    /// any partitioned table above the leaf).
    pub table: String,
    /// The partition's schema (it may differ from its table's).
    pub partition_schema: String,
    /// The partition.
    pub partition: String,
}

/// The name a suggested index gets: `{table}_{columns joined by _}_idx`.
///
/// It is meant to be read, not to be unique: `(a_b)` and `(a, b)` get the
/// same name, an existing index or table may have it, and PostgreSQL cuts
/// names at 63 bytes. A taken name makes the `CREATE INDEX` fail ("already
/// exists") without changing anything; choose another name then. It is
/// never `IF NOT EXISTS`, which would skip the statement silently when an
/// index of that name on other columns exists.
pub fn index_name(table: &str, columns: &[String]) -> String {
    format!("{table}_{}_idx", columns.join("_"))
}

#[cfg(test)]
mod tests {
    use super::index_name;

    #[test]
    fn index_names_are_readable_not_unique() {
        assert_eq!(
            index_name("orders", &["customer_id".into()]),
            "orders_customer_id_idx"
        );
        // Said in its documentation: the statement then fails, loudly.
        assert_eq!(
            index_name("t", &["a".into(), "b".into()]),
            index_name("t", &["a_b".into()])
        );
    }
}

//! Reading rows for the integrity checks: how a table is scanned the way its
//! foreign keys see it, how a child row is matched to its parent the way the
//! database's own check matches it, and how rows of key values come back.

use diesel::backend::Backend;
use diesel::connection::LoadConnection;
use diesel::deserialize::{self, FromSql, QueryableByName};
use diesel::row::NamedRow;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryResult;

use crate::fk::ForeignKey;

/// How a backend reads the rows the integrity checks look at.
pub trait ReadRows: Backend + Sized {
    /// The `FROM` item that scans `schema.table` as a foreign key declared
    /// on it, or referencing it, sees it (quoted): on PostgreSQL a table's
    /// inheritance children are not part of its constraints, while a
    /// partitioned table's partitions are.
    fn constrained_rows<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        schema: &str,
        table: &str,
    ) -> QueryResult<String>;

    /// For each column pair of `fk`, in its order, the condition under
    /// which the child row `c` and the parent row `p` agree on it, exactly
    /// as the database's own check compares them (its operator, casts,
    /// affinity and collation): a plain `=` does not, where the two
    /// columns' types differ.
    fn key_matches<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        fk: &ForeignKey,
    ) -> Result<Vec<String>, CheckFailed>;

    /// Compares `counted`, the orphans the anti-join found, with the
    /// database's own count where it keeps one (SQLite's
    /// `foreign_key_check`), and refuses a foreign key the database itself
    /// cannot check.
    fn confirm_orphans<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        fk: &ForeignKey,
        counted: u64,
    ) -> Result<(), CheckFailed>;

    /// `expression` as text that tells every value apart (SQLite: a BLOB
    /// as `X'..'`, which `CAST .. AS TEXT` would turn into its raw bytes).
    fn value_as_text(expression: &str) -> String;

    /// Prepares the transaction (`outermost`: just begun by the report) or
    /// savepoint the checks read in: one snapshot of the whole database,
    /// and every row seen as the database's own check sees it (PostgreSQL:
    /// no row-level security filtering rows out, which makes a query fail
    /// instead). Returns what [`end_reading`](Self::end_reading) sets back.
    fn begin_reading<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        outermost: bool,
    ) -> QueryResult<Option<String>>;

    /// Sets back what [`begin_reading`](Self::begin_reading) changed in a
    /// caller's transaction.
    fn end_reading<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        changed: Option<String>,
    ) -> QueryResult<()>;

    /// Runs `sql`, a query shaped for [`KeyRow`], and returns its rows.
    fn key_rows<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        sql: &str,
    ) -> QueryResult<Vec<KeyRow>>;
}

/// Why one foreign key could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum CheckFailed {
    /// The database refused a query.
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    /// The database's answers do not allow an exact check.
    #[error("{0}")]
    Refused(String),
}

/// The name of the column saying how many key columns follow.
pub(crate) const KEY_WIDTH: &str = "key_width";
/// The name of the column counting every row the query matched.
pub(crate) const TOTAL: &str = "total";

/// The name of key column `index` in a query shaped for [`KeyRow`].
pub(crate) fn key_column(index: usize) -> String {
    format!("k{index}")
}

/// One row of a query that selects `key_width` (a BIGINT: how many key
/// columns follow), the key columns `k0`, `k1`, .. as text, and `total` (a
/// BIGINT), so that one row type reads keys of any width. Not public API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    /// The key's values, NULL as `None`.
    pub(crate) key: Vec<Option<String>>,
    /// The `total` column.
    pub(crate) total: i64,
}

impl<DB> QueryableByName<DB> for KeyRow
where
    DB: Backend,
    String: FromSql<Text, DB>,
    i64: FromSql<BigInt, DB>,
{
    fn build<'a>(row: &impl NamedRow<'a, DB>) -> deserialize::Result<Self> {
        let width = usize::try_from(NamedRow::get::<BigInt, i64>(row, KEY_WIDTH)?)?;
        let key = (0..width)
            .map(|index| NamedRow::get::<Nullable<Text>, Option<String>>(row, &key_column(index)))
            .collect::<deserialize::Result<Vec<_>>>()?;
        let total = NamedRow::get::<BigInt, i64>(row, TOTAL)?;
        Ok(KeyRow { key, total })
    }
}

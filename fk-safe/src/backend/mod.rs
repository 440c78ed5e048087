//! The backends, behind one trait. Shared code asks a connection's backend
//! (its [`FkBackend`]) for what differs between databases; no other module
//! branches on the database.

pub mod key_order;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
mod sealed;
#[cfg(feature = "sqlite")]
mod sqlite;

use diesel::connection::LoadConnection;
use diesel::query_builder::AstPass;
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Nullable, Text};
use diesel::QueryResult;

use crate::catalog::{FkCatalog, ForeignKey};
use crate::error::Error;
use crate::graph::KeyValue;
use crate::violation::FkViolation;

/// A Diesel backend fk-safe supports: [`diesel::pg::Pg`] (feature
/// `postgres`) and [`diesel::sqlite::Sqlite`] (feature `sqlite`).
///
/// Name it in the bounds of code that is generic over the database, beside
/// [`WriteRow`](crate::graph::WriteRow) for the models it writes. Its
/// methods are fk-safe's own; the trait is sealed, so it cannot be
/// implemented outside fk-safe.
///
/// ```
/// use diesel::connection::LoadConnection;
/// use fk_safe::graph::{insert_graph, Graph, Ids, WriteRow};
/// use fk_safe::{Error, FkBackend};
///
/// /// Writes a graph of `M` rows on any supported database.
/// fn write_rows<C, M>(conn: &mut C, rows: Vec<M>) -> Result<Ids, Error>
/// where
///     C: LoadConnection,
///     C::Backend: FkBackend + 'static,
///     M: WriteRow<C::Backend>,
/// {
///     let mut graph = Graph::new();
///     for row in rows {
///         graph.add(row);
///     }
///     insert_graph(conn, &graph)
/// }
/// ```
pub trait FkBackend: diesel::backend::Backend + sealed::Sealed + Sized {
    /// Which database this is, for violations fk-safe finds itself.
    const KIND: crate::violation::Database;

    /// Makes the database enforce foreign keys on this connection.
    fn enforce_foreign_keys<C: LoadConnection<Backend = Self>>(conn: &mut C) -> QueryResult<()>;

    /// Lists every foreign key of the database.
    fn list_foreign_keys<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        catalog: &FkCatalog,
    ) -> QueryResult<Vec<ForeignKey>>;

    /// The foreign keys declared on the tables named `table` (unquoted; on
    /// PostgreSQL in every schema that has one).
    fn foreign_keys_of_table<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        catalog: &FkCatalog,
        table: &str,
    ) -> QueryResult<Vec<ForeignKey>>;

    /// Completes `violation` from the catalog. Failures to read the catalog
    /// are recorded in the violation, never raised.
    fn explain<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        catalog: &FkCatalog,
        violation: &mut FkViolation,
    );

    /// How many rows of `columns` bind parameters each one statement may
    /// carry (the backend's bind-parameter limit divided by the row width).
    fn rows_per_statement(columns: usize) -> usize;

    /// Writes a multi-row insert that makes the database generate keys in
    /// input order, returning the key column as TEXT.
    fn write_batch_insert<'b>(
        batch: &'b crate::graph::Batch<'_, Self>,
        out: &mut diesel::query_builder::AstPass<'_, 'b, Self>,
    ) -> QueryResult<()>;

    /// Renders a fragment (a table, a column) as this backend writes it.
    fn render(fragment: &dyn diesel::query_builder::QueryFragment<Self>) -> QueryResult<String>;

    /// How the keys of `key_column` of `table` (rendered) follow the rows
    /// of one statement, read from what the database will evaluate for that
    /// column, for `rows` rows still to write. Good for the current
    /// transaction only: a schema change in between would make it stale.
    fn table_keys<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        table: &str,
        key_column: &str,
        rows: usize,
    ) -> QueryResult<key_order::TableKeys>;

    /// Whether `known`, read before the first multi-row statement on
    /// `table`, still holds now that the statement ran and holds the locks
    /// it takes. On PostgreSQL the table lock does not cover the sequence:
    /// an `ALTER SEQUENCE` committed between the answer and the statement's
    /// first `nextval()` shows here, while later ones wait for this
    /// transaction. Asked once per table and transaction.
    fn key_order_still_holds<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        table: &str,
        key_column: &str,
        known: &key_order::TableKeys,
    ) -> QueryResult<bool>;

    /// Binds a key with its own SQL type (BIGINT, TEXT, UUID); a composite
    /// key as a parenthesized row of its parts.
    fn push_key<'b>(
        out: &mut diesel::query_builder::AstPass<'_, 'b, Self>,
        key: &'b crate::graph::KeyValue,
    ) -> QueryResult<()>;

    /// Runs a query returning two TEXT columns.
    fn load_pairs<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        query: crate::graph::PairQuery<'_, Self>,
    ) -> QueryResult<Vec<(String, String)>>;

    /// Runs a batch and reads the keys it generated, as text, in any order.
    fn load_keys<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        batch: crate::graph::Batch<'_, Self>,
    ) -> QueryResult<Vec<String>>;

    /// Runs `work` in a transaction and explains a foreign-key failure.
    fn transaction<C, T, F>(conn: &mut C, catalog: &FkCatalog, work: F) -> Result<T, Error>
    where
        C: LoadConnection<Backend = Self>,
        F: FnMut(&mut C) -> Result<T, Error>;
}

/// A Diesel connection fk-safe can work with: `PgConnection`,
/// `SqliteConnection`, and r2d2's `PooledConnection` of either.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::prelude::*;
/// use fk_safe::FkConnection;
///
/// let mut conn = SqliteConnection::establish(":memory:").unwrap();
/// conn.enforce_foreign_keys().unwrap();
/// # }
/// ```
pub trait FkConnection: LoadConnection + Sized {
    /// Makes the database enforce foreign keys on this connection: on SQLite
    /// `PRAGMA foreign_keys = ON` (checked to have taken effect: SQLite
    /// ignores it inside a transaction), on PostgreSQL nothing (always on).
    /// For pools, use [`EnforceForeignKeys`](crate::EnforceForeignKeys).
    fn enforce_foreign_keys(&mut self) -> QueryResult<()>;

    #[doc(hidden)]
    fn fk_list_foreign_keys(&mut self, catalog: &FkCatalog) -> QueryResult<Vec<ForeignKey>>;

    #[doc(hidden)]
    fn fk_explain(&mut self, catalog: &FkCatalog, violation: &mut FkViolation);

    #[doc(hidden)]
    fn fk_transaction<T, F>(&mut self, catalog: &FkCatalog, work: F) -> Result<T, Error>
    where
        F: FnMut(&mut Self) -> Result<T, Error>;
}

impl<C> FkConnection for C
where
    C: LoadConnection,
    C::Backend: FkBackend,
{
    fn enforce_foreign_keys(&mut self) -> QueryResult<()> {
        <C::Backend as FkBackend>::enforce_foreign_keys(self)
    }

    fn fk_list_foreign_keys(&mut self, catalog: &FkCatalog) -> QueryResult<Vec<ForeignKey>> {
        <C::Backend as FkBackend>::list_foreign_keys(self, catalog)
    }

    fn fk_explain(&mut self, catalog: &FkCatalog, violation: &mut FkViolation) {
        <C::Backend as FkBackend>::explain(self, catalog, violation)
    }

    fn fk_transaction<T, F>(&mut self, catalog: &FkCatalog, work: F) -> Result<T, Error>
    where
        F: FnMut(&mut Self) -> Result<T, Error>,
    {
        <C::Backend as FkBackend>::transaction(self, catalog, work)
    }
}

/// Copies a constraint's declaration into a violation.
pub(crate) fn apply_foreign_key(violation: &mut FkViolation, fk: &ForeignKey) {
    violation.constraint = fk.name.clone().or(violation.constraint.take());
    violation.schema = Some(fk.schema.clone());
    violation.child_table = Some(fk.table.clone());
    violation.child_columns = fk.columns.clone();
    violation.parent_schema = Some(fk.parent_schema.clone());
    violation.parent_table = Some(fk.parent_table.clone());
    violation.parent_columns = fk.parent_columns.clone();
    violation.on_delete = Some(fk.on_delete);
    violation.on_update = Some(fk.on_update);
    violation.deferrability = fk.deferrability;
}

/// Binds the keys every backend binds alike (integers, text, NULL, and
/// composite keys part by part through `push_part`); `None` for a key whose
/// binding is the backend's own (a UUID).
pub(crate) fn push_common_key<'b, DB>(
    out: &mut AstPass<'_, 'b, DB>,
    key: &'b KeyValue,
    push_part: fn(&mut AstPass<'_, 'b, DB>, &'b KeyValue) -> QueryResult<()>,
) -> Option<QueryResult<()>>
where
    DB: diesel::backend::Backend + HasSqlType<BigInt> + HasSqlType<Text>,
    i64: ToSql<BigInt, DB>,
    str: ToSql<Text, DB>,
    Option<i64>: ToSql<Nullable<BigInt>, DB>,
{
    Some(match key {
        KeyValue::Int(value) => out.push_bind_param::<BigInt, i64>(value),
        KeyValue::Text(value) => out.push_bind_param::<Text, str>(value.as_str()),
        KeyValue::Null => out.push_bind_param::<Nullable<BigInt>, Option<i64>>(&None),
        KeyValue::Composite(parts) => {
            out.push_sql("(");
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push_sql(", ");
                }
                if let Err(error) = push_part(out, part) {
                    return Some(Err(error));
                }
            }
            out.push_sql(")");
            Ok(())
        }
        #[cfg(feature = "uuid")]
        KeyValue::Uuid(_) => return None,
    })
}

/// The error for a key a backend cannot bind.
pub(crate) fn unsupported_key(key: &KeyValue) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(
        format!("this backend cannot bind the key {key}").into(),
    )
}

//! SQLite: every failure reads `FOREIGN KEY constraint failed`, naming
//! nothing. The catalog is `PRAGMA foreign_key_list`; which rows broke which
//! key is `PRAGMA foreign_key_check`, which only sees violations that still
//! exist, so a failed write is replayed with the constraints deferred inside
//! a savepoint that is always rolled back (see `transaction`).

mod key_order;
mod transaction;

use std::sync::Arc;

use diesel::connection::LoadConnection;
use diesel::prelude::*;
use diesel::query_builder::AstPass;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::sqlite::Sqlite;

use super::{apply_foreign_key, FkBackend};
use crate::catalog::{FkCatalog, ForeignKey};
use crate::error::Error;
use crate::graph::Batch;
use crate::sql::quote_ident;
use crate::violation::{Database, FkAction, FkViolation, ViolationKind};

const SCHEMA: &str = "main";

#[derive(QueryableByName)]
struct ForeignKeyListRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    table: String,
    #[diesel(sql_type = Text)]
    from: String,
    #[diesel(sql_type = Nullable<Text>)]
    to: Option<String>,
    #[diesel(sql_type = Text)]
    on_update: String,
    #[diesel(sql_type = Text)]
    on_delete: String,
}

#[derive(QueryableByName)]
struct NameRow {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct FlagRow {
    #[diesel(sql_type = BigInt)]
    flag: i64,
}

#[derive(QueryableByName)]
struct ValueRow {
    #[diesel(sql_type = Nullable<Text>)]
    value: Option<String>,
}

#[derive(QueryableByName)]
struct ExistsRow {
    #[diesel(sql_type = Bool)]
    found: bool,
}

#[derive(QueryableByName)]
struct CheckRow {
    #[diesel(sql_type = Text)]
    table: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    rowid: Option<i64>,
    #[diesel(sql_type = BigInt)]
    fkid: i64,
}

/// The foreign keys of `table`, with PRAGMA ids, cached per table.
fn table_foreign_keys<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    catalog: &FkCatalog,
    table: &str,
) -> QueryResult<Arc<Vec<(i64, ForeignKey)>>> {
    if let Some(found) = catalog.lock().by_child_table.get(table) {
        return Ok(Arc::clone(found));
    }
    let rows: Vec<ForeignKeyListRow> = diesel::sql_query(
        r#"/* fk-safe: catalog */ SELECT id, "table", "from", "to", on_update, on_delete
             FROM pragma_foreign_key_list(?) ORDER BY id, seq"#,
    )
    .bind::<Text, _>(table)
    .load(conn)?;
    let mut keys: Vec<(i64, ForeignKey)> = Vec::new();
    let mut implicit_targets: Vec<usize> = Vec::new();
    for row in rows {
        let same_key = keys.last().is_some_and(|(id, _)| *id == row.id);
        if !same_key {
            keys.push((
                row.id,
                ForeignKey {
                    name: None,
                    schema: SCHEMA.to_string(),
                    table: table.to_string(),
                    columns: Vec::new(),
                    parent_schema: SCHEMA.to_string(),
                    parent_table: row.table.clone(),
                    parent_columns: Vec::new(),
                    on_delete: FkAction::parse(&row.on_delete).unwrap_or(FkAction::NoAction),
                    on_update: FkAction::parse(&row.on_update).unwrap_or(FkAction::NoAction),
                    deferrability: None,
                },
            ));
        }
        let Some((_, fk)) = keys.last_mut() else {
            continue;
        };
        fk.columns.push(row.from);
        match row.to {
            Some(to) => fk.parent_columns.push(to),
            // `REFERENCES parent` without columns means the parent's primary key.
            None => {
                if !implicit_targets.contains(&(keys.len() - 1)) {
                    implicit_targets.push(keys.len() - 1);
                }
            }
        }
    }
    for index in implicit_targets {
        let parent = keys[index].1.parent_table.clone();
        let primary_key: Vec<NameRow> = diesel::sql_query(
            "/* fk-safe: catalog */ SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk",
        )
        .bind::<Text, _>(&parent)
        .load(conn)?;
        keys[index].1.parent_columns = primary_key.into_iter().map(|r| r.name).collect();
    }
    let keys = Arc::new(keys);
    catalog
        .lock()
        .by_child_table
        .insert(table.to_string(), Arc::clone(&keys));
    Ok(keys)
}

fn read_flag<C: LoadConnection<Backend = Sqlite>>(conn: &mut C, pragma: &str) -> QueryResult<bool> {
    let rows: Vec<FlagRow> =
        diesel::sql_query(format!("SELECT {pragma} AS flag FROM pragma_{pragma}")).load(conn)?;
    Ok(rows.first().is_some_and(|r| r.flag != 0))
}

/// The name that reaches `table`'s rowid: `rowid`, `_rowid_` or `oid`,
/// whichever the table does not declare as a column of its own; `None` when
/// it declares all three.
fn rowid_name<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    table: &str,
) -> QueryResult<Option<&'static str>> {
    let declared: Vec<NameRow> = diesel::sql_query("SELECT name FROM pragma_table_info(?)")
        .bind::<Text, _>(table)
        .load(conn)?;
    Ok(["rowid", "_rowid_", "oid"]
        .into_iter()
        .find(|alias| !declared.iter().any(|c| c.name.eq_ignore_ascii_case(alias))))
}

/// The values of `columns` in the row `rowid` of `table`; `None` when the
/// row does not exist or its rowid cannot be reached.
fn row_values<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    table: &str,
    columns: &[String],
    rowid: i64,
) -> QueryResult<Option<Vec<Option<String>>>> {
    let Some(rowid_column) = rowid_name(conn, table)? else {
        return Ok(None);
    };
    let mut values = Vec::with_capacity(columns.len());
    for column in columns {
        let rows: Vec<ValueRow> = diesel::sql_query(format!(
            "SELECT CAST({} AS TEXT) AS value FROM {} WHERE {rowid_column} = ?",
            quote_ident(column),
            quote_ident(table)
        ))
        .bind::<BigInt, _>(rowid)
        .load(conn)?;
        match rows.into_iter().next() {
            Some(row) => values.push(row.value),
            None => return Ok(None),
        }
    }
    Ok(Some(values))
}

/// Whether the parent that row `rowid` of the child points at exists.
fn parent_exists<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    fk: &ForeignKey,
    rowid: i64,
) -> QueryResult<bool> {
    let Some(rowid_column) = rowid_name(conn, &fk.table)? else {
        return Ok(false);
    };
    let matches: Vec<String> = fk
        .columns
        .iter()
        .zip(&fk.parent_columns)
        .map(|(child, parent)| format!("p.{} = c.{}", quote_ident(parent), quote_ident(child)))
        .collect();
    let rows: Vec<ExistsRow> = diesel::sql_query(format!(
        "SELECT EXISTS (SELECT 1 FROM {} AS p, {} AS c WHERE c.{rowid_column} = ? AND {}) AS found",
        quote_ident(&fk.parent_table),
        quote_ident(&fk.table),
        matches.join(" AND ")
    ))
    .bind::<BigInt, _>(rowid)
    .load(conn)?;
    Ok(rows.first().is_some_and(|r| r.found))
}

/// Every foreign key with a RESTRICT action, the only kind SQLite raises as
/// extended code 1811.
fn restrict_keys<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    catalog: &FkCatalog,
) -> QueryResult<Vec<ForeignKey>> {
    let all = catalog.foreign_keys(conn).map_err(|error| match error {
        Error::Database(error) => error,
        other => DieselError::QueryBuilderError(other.to_string().into()),
    })?;
    Ok(all
        .iter()
        .filter(|fk| fk.on_delete == FkAction::Restrict || fk.on_update == FkAction::Restrict)
        .cloned()
        .collect())
}

/// A RESTRICT failure names nothing, but when the database has exactly one
/// RESTRICT key, that key is the one.
fn explain_restrict<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    catalog: &FkCatalog,
    violation: &mut FkViolation,
) {
    match restrict_keys(conn, catalog) {
        Ok(keys) if keys.len() == 1 => apply_foreign_key(violation, &keys[0]),
        Ok(_) => {}
        Err(error) => violation.catalog_error = Some(error.to_string()),
    }
}

/// SQLITE_MAX_VARIABLE_NUMBER of the bundled SQLite (3.32 and later).
const BIND_LIMIT: usize = 32_766;

impl FkBackend for Sqlite {
    fn table_keys<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        table: &str,
        key_column: &str,
        rows: usize,
    ) -> QueryResult<crate::backend::key_order::TableKeys> {
        key_order::table_keys(conn, table, key_column, rows)
    }

    /// The answer was read inside the transaction that writes, under its
    /// write lock: no other connection can have changed the table since.
    fn key_order_still_holds<C: LoadConnection<Backend = Self>>(
        _conn: &mut C,
        _table: &str,
        _key_column: &str,
        _known: &crate::backend::key_order::TableKeys,
    ) -> QueryResult<bool> {
        Ok(true)
    }

    const KIND: Database = Database::Sqlite;

    fn rows_per_statement(columns: usize) -> usize {
        // Without columns, `DEFAULT VALUES` inserts one row per statement.
        BIND_LIMIT
            .checked_div(columns)
            .map_or(1, |rows| rows.max(1))
    }

    /// `INSERT INTO t (a, b) VALUES (?, ?), ... RETURNING key`: rowids are
    /// assigned in `VALUES` order while the statement holds the write lock.
    fn write_batch_insert<'b>(
        batch: &'b Batch<'_, Self>,
        out: &mut AstPass<'_, 'b, Self>,
    ) -> QueryResult<()> {
        out.push_sql("INSERT INTO ");
        (batch.write_table)(out)?;
        if batch.written_columns().next().is_none() {
            out.push_sql(" DEFAULT VALUES");
        } else {
            out.push_sql(" ");
            batch.write_column_list(out)?;
            out.push_sql(" VALUES ");
            for i in 0..batch.rows.len() {
                if i > 0 {
                    out.push_sql(", ");
                }
                out.push_sql("(");
                batch.write_row(i, out)?;
                out.push_sql(")");
            }
        }
        batch.write_tail(out)
    }

    fn render(fragment: &dyn diesel::query_builder::QueryFragment<Self>) -> QueryResult<String> {
        let mut builder = diesel::sqlite::SqliteQueryBuilder::new();
        fragment.to_sql(&mut builder, &Sqlite)?;
        Ok(diesel::query_builder::QueryBuilder::finish(builder))
    }

    fn push_key<'b>(
        out: &mut AstPass<'_, 'b, Self>,
        key: &'b crate::graph::KeyValue,
    ) -> QueryResult<()> {
        match key {
            #[cfg(feature = "uuid")]
            crate::graph::KeyValue::Uuid(value) => {
                out.push_bind_param::<diesel::sql_types::Binary, [u8]>(value.as_bytes().as_slice())
            }
            other => super::push_common_key(out, other, Self::push_key)
                .unwrap_or_else(|| Err(super::unsupported_key(other))),
        }
    }

    fn load_pairs<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        query: crate::graph::PairQuery<'_, Self>,
    ) -> QueryResult<Vec<(String, String)>> {
        query.load::<(String, String)>(conn)
    }

    fn load_keys<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        batch: Batch<'_, Self>,
    ) -> QueryResult<Vec<String>> {
        batch.load::<String>(conn)
    }

    fn enforce_foreign_keys<C: LoadConnection<Backend = Self>>(conn: &mut C) -> QueryResult<()> {
        diesel::sql_query("PRAGMA foreign_keys = ON").execute(conn)?;
        if read_flag(conn, "foreign_keys")? {
            Ok(())
        } else {
            Err(DieselError::QueryBuilderError(
                "PRAGMA foreign_keys = ON did not take effect: SQLite ignores it inside a \
                 transaction, so call enforce_foreign_keys before beginning one"
                    .into(),
            ))
        }
    }

    fn list_foreign_keys<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        catalog: &FkCatalog,
    ) -> QueryResult<Vec<ForeignKey>> {
        let tables: Vec<NameRow> = diesel::sql_query(
            "/* fk-safe: catalog */ SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )
        .load(conn)?;
        let mut all = Vec::new();
        for table in tables {
            let keys = table_foreign_keys(conn, catalog, &table.name)?;
            all.extend(keys.iter().map(|(_, fk)| fk.clone()));
        }
        Ok(all)
    }

    fn foreign_keys_of_table<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        catalog: &FkCatalog,
        table: &str,
    ) -> QueryResult<Vec<ForeignKey>> {
        let keys = table_foreign_keys(conn, catalog, table)?;
        Ok(keys.iter().map(|(_, fk)| fk.clone()).collect())
    }

    fn explain<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        catalog: &FkCatalog,
        violation: &mut FkViolation,
    ) {
        if violation.child_table.is_none() && violation.kind == ViolationKind::StillReferenced {
            explain_restrict(conn, catalog, violation);
        }
        if violation.schema.is_none() {
            violation.schema = Some(SCHEMA.to_string());
        }
    }

    fn transaction<C, T, F>(conn: &mut C, catalog: &FkCatalog, work: F) -> Result<T, Error>
    where
        C: LoadConnection<Backend = Self>,
        F: FnMut(&mut C) -> Result<T, Error>,
    {
        transaction::run(conn, catalog, work)
    }
}

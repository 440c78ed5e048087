//! Reading what broken rows hold on SQLite: their key values by rowid,
//! whether their parent exists, and the RESTRICT keys that can raise a
//! failure naming nothing.

use diesel::connection::LoadConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::sqlite::Sqlite;

use super::catalog::NameRow;
use crate::backend::catalog::all_foreign_keys;
use crate::cache::CatalogCache;
use crate::fk::{Declaration, FkAction, FkViolation, ForeignKey};
use crate::sql::quote_ident;

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
pub(super) struct CheckRow {
    #[diesel(sql_type = Text)]
    pub(super) table: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(super) rowid: Option<i64>,
    #[diesel(sql_type = BigInt)]
    pub(super) fkid: i64,
}

/// The name that reaches `table`'s rowid: `rowid`, `_rowid_` or `oid`,
/// whichever the table does not declare as a column of its own; `None` when
/// it declares all three.
pub(super) fn rowid_name<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    table: &str,
) -> QueryResult<Option<&'static str>> {
    let declared: Vec<NameRow> = diesel::sql_query("SELECT name FROM pragma_table_info(?, 'main')")
        .bind::<Text, _>(table)
        .load(conn)?;
    Ok(["rowid", "_rowid_", "oid"]
        .into_iter()
        .find(|alias| !declared.iter().any(|c| c.name.eq_ignore_ascii_case(alias))))
}

/// The values of `columns` in the row `rowid` of `table`; `None` when the
/// row does not exist or its rowid cannot be reached.
pub(super) fn row_values<C: LoadConnection<Backend = Sqlite>>(
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
            "SELECT CAST({} AS TEXT) AS value FROM \"main\".{} WHERE {rowid_column} = ?",
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
pub(super) fn parent_exists<C: LoadConnection<Backend = Sqlite>>(
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
    cache: &CatalogCache,
) -> QueryResult<Vec<ForeignKey>> {
    let all = all_foreign_keys(conn, cache)?;
    Ok(all
        .iter()
        .filter(|fk| fk.on_delete == FkAction::Restrict || fk.on_update == FkAction::Restrict)
        .cloned()
        .collect())
}

/// A RESTRICT failure names nothing, but when the database has exactly one
/// RESTRICT key, that key is the one.
pub(super) fn explain_restrict<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    cache: &CatalogCache,
    violation: &mut FkViolation,
) {
    match restrict_keys(conn, cache) {
        Ok(keys) if keys.len() == 1 => violation.declare(Declaration::from(&keys[0])),
        Ok(_) => {}
        Err(error) => violation.set_catalog_error(Some(error.to_string())),
    }
}

//! SQLite's rows for the integrity checks: a table is its rows (SQLite has
//! no inheritance), in `main`, the only schema fk-safe reads.
//!
//! SQLite's own check applies the parent column's affinity to the child's
//! value and compares under the parent column's collation. `p.col = +c.col`
//! does the same: the unary `+` strips the child column's affinity, so the
//! comparison takes the parent's, where a plain `p.col = c.col` would
//! convert a TEXT parent key `'01'` to the number 1 to meet an INTEGER
//! child and find a parent SQLite does not. Every count is then checked
//! against `PRAGMA foreign_key_check`, SQLite's own verdict, which also
//! refuses a parent key that has no unique index ("foreign key mismatch").

use diesel::connection::LoadConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, QueryableByName, RunQueryDsl};

use super::catalog::read_table_foreign_keys;
use crate::backend::integrity::{CheckFailed, KeyRow, ReadRows};
use crate::fk::ForeignKey;
use crate::sql::{quote_ident, CATALOG_READ_MARK};

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

impl ReadRows for Sqlite {
    fn constrained_rows<C: LoadConnection<Backend = Self>>(
        _conn: &mut C,
        schema: &str,
        table: &str,
    ) -> QueryResult<String> {
        Ok(format!("{}.{}", quote_ident(schema), quote_ident(table)))
    }

    fn key_matches<C: LoadConnection<Backend = Self>>(
        _conn: &mut C,
        fk: &ForeignKey,
    ) -> Result<Vec<String>, CheckFailed> {
        Ok(fk
            .columns
            .iter()
            .zip(&fk.parent_columns)
            .map(|(child, parent)| format!("p.{} = +c.{}", quote_ident(parent), quote_ident(child)))
            .collect())
    }

    fn confirm_orphans<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        fk: &ForeignKey,
        counted: u64,
    ) -> Result<(), CheckFailed> {
        // The PRAGMA's `fkid` is the foreign key's place in
        // `foreign_key_list`; two identical foreign keys break alike.
        let id = read_table_foreign_keys(conn, &fk.table)?
            .into_iter()
            .find(|(_, key)| {
                key.columns == fk.columns
                    && key.parent_columns == fk.parent_columns
                    && key.parent_table.eq_ignore_ascii_case(&fk.parent_table)
            })
            .map(|(id, _)| id)
            .ok_or_else(|| {
                CheckFailed::Refused(
                    "the foreign key is gone since the catalog was read".to_string(),
                )
            })?;
        let rows: Vec<CountRow> = diesel::sql_query(format!(
            "{CATALOG_READ_MARK} SELECT COUNT(*) AS count \
             FROM pragma_foreign_key_check(?, 'main') WHERE fkid = ?"
        ))
        .bind::<Text, _>(&fk.table)
        .bind::<BigInt, _>(id)
        .load(conn)?;
        let own = rows.first().map_or(0, |row| row.count);
        if u64::try_from(own).ok() == Some(counted) {
            Ok(())
        } else {
            Err(CheckFailed::Refused(format!(
                "SQLite's own foreign_key_check counts {own} orphans where the anti-join \
                 counted {counted}; neither is reported"
            )))
        }
    }

    fn value_as_text(expression: &str) -> String {
        format!(
            "CASE WHEN typeof({expression}) = 'blob' THEN 'X''' || hex({expression}) || '''' \
             ELSE CAST({expression} AS TEXT) END"
        )
    }

    fn begin_reading<C: LoadConnection<Backend = Self>>(
        _conn: &mut C,
        _outermost: bool,
    ) -> QueryResult<Option<String>> {
        // A transaction reads one snapshot from its first read on, and
        // SQLite has no row-level security.
        Ok(None)
    }

    fn end_reading<C: LoadConnection<Backend = Self>>(
        _conn: &mut C,
        _changed: Option<String>,
    ) -> QueryResult<()> {
        Ok(())
    }

    fn key_rows<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        sql: &str,
    ) -> QueryResult<Vec<KeyRow>> {
        diesel::sql_query(sql).load(conn)
    }
}

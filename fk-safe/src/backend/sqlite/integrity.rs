//! SQLite's rows for the integrity checks: a table is its rows (SQLite has
//! no inheritance), in `main`, the only schema fk-safe reads.

use diesel::connection::LoadConnection;
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, RunQueryDsl};

use crate::backend::integrity::{KeyRow, ReadRows};
use crate::sql::quote_ident;

impl ReadRows for Sqlite {
    fn constrained_rows<C: LoadConnection<Backend = Self>>(
        _conn: &mut C,
        schema: &str,
        table: &str,
    ) -> QueryResult<String> {
        Ok(format!("{}.{}", quote_ident(schema), quote_ident(table)))
    }

    fn key_rows<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        sql: &str,
    ) -> QueryResult<Vec<KeyRow>> {
        diesel::sql_query(sql).load(conn)
    }
}

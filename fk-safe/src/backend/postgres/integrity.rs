//! PostgreSQL's rows for the integrity checks. A foreign key holds for the
//! rows of the table it is declared on, not for those of the table's
//! inheritance children (PostgreSQL's own checks read `FROM ONLY`), while
//! on a partitioned table it holds for every partition (which `ONLY` would
//! leave out, a partitioned table storing no rows of its own).

use diesel::connection::LoadConnection;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use crate::backend::integrity::{KeyRow, ReadRows};
use crate::sql::{quote_ident, CATALOG_READ_MARK};

#[derive(QueryableByName)]
struct PartitionedRow {
    #[diesel(sql_type = Bool)]
    partitioned: bool,
}

impl ReadRows for Pg {
    fn constrained_rows<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        schema: &str,
        table: &str,
    ) -> QueryResult<String> {
        let found: Vec<PartitionedRow> = diesel::sql_query(format!(
            "{CATALOG_READ_MARK} SELECT c.relkind = 'p' AS partitioned \
             FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2"
        ))
        .bind::<Text, _>(schema)
        .bind::<Text, _>(table)
        .load(conn)?;
        let rendered = format!("{}.{}", quote_ident(schema), quote_ident(table));
        // A table that is gone is named as it is, and the scan reports it.
        Ok(if found.first().is_some_and(|row| row.partitioned) {
            rendered
        } else {
            format!("ONLY {rendered}")
        })
    }

    fn key_rows<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        sql: &str,
    ) -> QueryResult<Vec<KeyRow>> {
        diesel::sql_query(sql).load(conn)
    }
}

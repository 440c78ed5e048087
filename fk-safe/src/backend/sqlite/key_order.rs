//! SQLite: whether the keys of a multi-row `INSERT .. VALUES ..` follow its
//! rows. A new rowid is one more than the largest in the table (with
//! `AUTOINCREMENT`, than the largest ever used), row after row in `VALUES`
//! order, while the statement holds the write lock; once the largest
//! possible rowid is taken, SQLite picks free ones at random.
//!
//! Keys follow the rows only when all of this holds:
//! - the target is a table with rowids (not a view, not a virtual table,
//!   not `WITHOUT ROWID`);
//! - the key column is the rowid itself: the one `INTEGER PRIMARY KEY`
//!   column, without `DESC` (which makes it an ordinary column with an
//!   index of its own) and without a DEFAULT (which would be used instead);
//! - no trigger on the table can insert rows between them;
//! - the rows to write fit below the largest possible rowid.
//!
//! The answer is read inside the transaction that writes: under its write
//! lock, no other connection can change the table in between. Its
//! statements open with the comment
//! [`CATALOG_READ_MARK`](crate::sql::CATALOG_READ_MARK).

use diesel::connection::LoadConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::sqlite::Sqlite;

use crate::backend::key_order::{KeyOrder, TableKeys};
use crate::sql::{quote_ident, split_identifiers};

#[derive(QueryableByName)]
struct NameRow {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct KeyFacts {
    /// A trigger on the table, in its schema or a temporary one.
    #[diesel(sql_type = Nullable<Text>)]
    trigger: Option<String>,
    /// A view, or a virtual table (its module assigns rowids).
    #[diesel(sql_type = Bool)]
    is_view: bool,
    #[diesel(sql_type = BigInt)]
    key_columns: i64,
    #[diesel(sql_type = Nullable<Text>)]
    key_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    key_type: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    key_default: Option<String>,
    /// An index made for the primary key: the key is not the rowid.
    #[diesel(sql_type = Nullable<Text>)]
    key_index: Option<String>,
}

#[derive(QueryableByName)]
struct LargestRow {
    #[diesel(sql_type = Nullable<BigInt>)]
    largest: Option<i64>,
}

/// The schema an unqualified table name means: SQLite looks in `temp`,
/// then `main`, then the attached databases in the order they were attached.
fn schema_of<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    name: &str,
) -> QueryResult<Option<String>> {
    let found: Vec<NameRow> = diesel::sql_query(
        "/* fk-safe: catalog */ SELECT d.name FROM pragma_database_list AS d \
          WHERE EXISTS (SELECT 1 FROM pragma_table_info(?1, d.name)) \
          ORDER BY d.name <> 'temp', d.seq LIMIT 1",
    )
    .bind::<Text, _>(name)
    .load(conn)?;
    Ok(found.into_iter().next().map(|r| r.name))
}

/// How the keys of `key_column` of `table` (as Diesel renders it) follow
/// the rows of one statement, for `rows` rows still to write.
pub(crate) fn table_keys<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    table: &str,
    key_column: &str,
    rows: usize,
) -> QueryResult<TableKeys> {
    let parts = split_identifiers(table);
    let (schema, name) = match parts.as_slice() {
        [name] => (schema_of(conn, name)?, name.as_str()),
        [schema, name] => (Some(schema.clone()), name.as_str()),
        _ => {
            return Ok(TableKeys::row_by_row(format!(
                "{table} is not a table name"
            )))
        }
    };
    let Some(schema) = schema else {
        return Ok(TableKeys::row_by_row(format!("no table {name} was found")));
    };
    let master = format!("{}.sqlite_master", quote_ident(&schema));
    let facts: Vec<KeyFacts> = diesel::sql_query(format!(
        "/* fk-safe: catalog */ SELECT (SELECT min(name) FROM (\
                   SELECT name FROM {master} WHERE type = 'trigger' AND tbl_name = ?1 COLLATE NOCASE \
                   UNION ALL \
                   SELECT name FROM sqlite_temp_master WHERE type = 'trigger' AND tbl_name = ?1 COLLATE NOCASE)) AS \"trigger\", \
                EXISTS (SELECT 1 FROM {master} WHERE name = ?1 COLLATE NOCASE \
                          AND (type = 'view' OR sql LIKE 'CREATE VIRTUAL TABLE%')) AS is_view, \
                (SELECT count(*) FROM pragma_table_info(?1, ?2) WHERE pk > 0) AS key_columns, \
                (SELECT name FROM pragma_table_info(?1, ?2) WHERE pk = 1) AS key_name, \
                (SELECT type FROM pragma_table_info(?1, ?2) WHERE pk = 1) AS key_type, \
                (SELECT dflt_value FROM pragma_table_info(?1, ?2) WHERE pk = 1) AS key_default, \
                (SELECT min(name) FROM pragma_index_list(?1, ?2) WHERE origin = 'pk') AS key_index"
    ))
    .bind::<Text, _>(name)
    .bind::<Text, _>(&schema)
    .load(conn)?;
    let Some(facts) = facts.into_iter().next() else {
        return Ok(TableKeys::row_by_row(format!("no table {name} was found")));
    };
    // A trigger can insert rows between ours; on a view, triggers decide
    // the rows altogether.
    if let Some(trigger) = &facts.trigger {
        return Ok(TableKeys::row_by_row(format!(
            "trigger {trigger} on {name} runs on its writes"
        )));
    }
    if facts.is_view {
        return Ok(TableKeys::row_by_row(format!(
            "{name} is a view or a virtual table, which decides its keys itself"
        )));
    }
    let by_row = |why: String| {
        Ok(TableKeys {
            generated: KeyOrder::RowByRow(why),
            given_may_change: None,
            sequence: None,
        })
    };
    let key_name = facts.key_name.as_deref().unwrap_or_default();
    if facts.key_columns != 1 || !key_name.eq_ignore_ascii_case(key_column) {
        return by_row(format!(
            "{key_column} is not the one primary-key column of {name}, so it is not the rowid"
        ));
    }
    let key_type = facts.key_type.as_deref().unwrap_or_default();
    if !key_type.eq_ignore_ascii_case("INTEGER") {
        return by_row(format!(
            "{key_column} is declared {key_type}, not INTEGER, so it is not the rowid"
        ));
    }
    if let Some(default) = &facts.key_default {
        return by_row(format!("{key_column} has the default {default}"));
    }
    // `INTEGER PRIMARY KEY DESC` and WITHOUT ROWID tables keep the key in
    // an index of its own: it is not the rowid.
    if let Some(index) = &facts.key_index {
        return by_row(format!(
            "{key_column} has the index {index} of its own, so it is not the rowid"
        ));
    }
    let largest: Vec<LargestRow> = diesel::sql_query(format!(
        "/* fk-safe: catalog */ SELECT max({}) AS largest FROM {}.{}",
        quote_ident(key_column),
        quote_ident(&schema),
        quote_ident(name)
    ))
    .load(conn)?;
    let largest = largest.first().and_then(|r| r.largest).unwrap_or(0);
    let room = i64::MAX.saturating_sub(largest.max(0));
    if i64::try_from(rows).map_or(true, |rows| rows > room) {
        return by_row(format!(
            "{name} holds rowid {largest}, too close to the largest possible one for {rows} more in order"
        ));
    }
    Ok(TableKeys {
        generated: KeyOrder::Consecutive,
        given_may_change: None,
        sequence: None,
    })
}

impl crate::backend::ReadKeyOrder for Sqlite {
    fn table_keys<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        table: &str,
        key_column: &str,
        rows: usize,
    ) -> QueryResult<TableKeys> {
        table_keys(conn, table, key_column, rows)
    }

    /// The answer was read inside the transaction that writes, under its
    /// write lock: no other connection can have changed the table since.
    fn key_order_still_holds<C: LoadConnection<Backend = Self>>(
        _conn: &mut C,
        _table: &str,
        _key_column: &str,
        _known: &TableKeys,
    ) -> QueryResult<bool> {
        Ok(true)
    }
}

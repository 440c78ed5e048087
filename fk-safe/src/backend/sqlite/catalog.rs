//! SQLite's catalog: `PRAGMA foreign_key_list` of each table, which keeps
//! no constraint names and no deferrability.

use std::collections::HashMap;
use std::sync::Arc;

use diesel::connection::LoadConnection;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::sqlite::Sqlite;

use super::SCHEMA;
use crate::backend::ReadCatalog;
use crate::cache::CatalogCache;
use crate::fk::{FkAction, ForeignKey, MatchType};

/// What SQLite remembers of its catalog.
#[derive(Debug, Default)]
pub struct SqliteCatalogCache {
    /// Child table -> its foreign keys, indexed by PRAGMA `id`.
    by_child_table: HashMap<String, Arc<Vec<(i64, ForeignKey)>>>,
}

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
pub(super) struct NameRow {
    #[diesel(sql_type = Text)]
    pub(super) name: String,
}

#[derive(QueryableByName)]
struct FlagRow {
    #[diesel(sql_type = BigInt)]
    flag: i64,
}

/// The foreign keys of `table`, with PRAGMA ids, cached per table.
pub(super) fn table_foreign_keys<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    cache: &CatalogCache,
    table: &str,
) -> QueryResult<Arc<Vec<(i64, ForeignKey)>>> {
    let cached =
        cache.with(|sqlite: &mut SqliteCatalogCache| sqlite.by_child_table.get(table).cloned());
    if let Some(found) = cached {
        return Ok(found);
    }
    let keys = Arc::new(read_table_foreign_keys(conn, table)?);
    cache.with(|sqlite: &mut SqliteCatalogCache| {
        sqlite
            .by_child_table
            .insert(table.to_string(), Arc::clone(&keys))
    });
    Ok(keys)
}

/// The foreign keys of `table`, with PRAGMA ids, read now.
pub(super) fn read_table_foreign_keys<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    table: &str,
) -> QueryResult<Vec<(i64, ForeignKey)>> {
    let rows: Vec<ForeignKeyListRow> = diesel::sql_query(
        // `REFERENCES Parent` names the table as written, and SQLite
        // matches table names without regard to case: the parent is the
        // table of that name spelled as it was created (as written when
        // there is none).
        r#"/* fk-safe: catalog */ SELECT f.id, COALESCE(m.name, f."table") AS "table",
                    f."from", f."to", f.on_update, f.on_delete
             FROM pragma_foreign_key_list(?, 'main') AS f
             LEFT JOIN sqlite_master AS m ON m.type = 'table' AND m.name = f."table" COLLATE NOCASE
            ORDER BY f.id, f.seq"#,
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
                    nullable: Vec::new(),
                    parent_schema: SCHEMA.to_string(),
                    parent_table: row.table.clone(),
                    parent_columns: Vec::new(),
                    on_delete: FkAction::parse(&row.on_delete).unwrap_or(FkAction::NoAction),
                    on_update: FkAction::parse(&row.on_update).unwrap_or(FkAction::NoAction),
                    deferrability: None,
                    // SQLite enforces every foreign key as MATCH SIMPLE,
                    // whatever MATCH clause it was declared with.
                    match_type: MatchType::Simple,
                    validated: true,
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
    if !keys.is_empty() {
        let nullable_columns = nullable_columns(conn, table)?;
        for (_, fk) in &mut keys {
            fk.nullable = fk
                .columns
                .iter()
                .map(|column| nullable_columns.iter().any(|n| n == column))
                .collect();
        }
    }
    for index in implicit_targets {
        let parent = keys[index].1.parent_table.clone();
        let primary_key: Vec<NameRow> = diesel::sql_query(
            "/* fk-safe: catalog */ SELECT name FROM pragma_table_info(?, 'main') WHERE pk > 0 ORDER BY pk",
        )
        .bind::<Text, _>(&parent)
        .load(conn)?;
        keys[index].1.parent_columns = primary_key.into_iter().map(|r| r.name).collect();
    }
    Ok(keys)
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    declared_type: String,
    #[diesel(sql_type = BigInt)]
    not_null: i64,
    #[diesel(sql_type = BigInt)]
    pk: i64,
}

/// The columns of `table` that can hold NULL. A primary key column can
/// unless SQLite keeps NULL from it: `INTEGER PRIMARY KEY` (the rowid's
/// alias, which turns a NULL into a new rowid) and every primary key column
/// of a `WITHOUT ROWID` table; other primary keys of rowid tables accept
/// NULL, a compatibility quirk SQLite documents. `INTEGER PRIMARY KEY DESC`
/// is no alias but reads the same here, so it is counted as NOT NULL: the
/// safe side for a load order, which then never relies on writing NULL.
fn nullable_columns<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    table: &str,
) -> QueryResult<Vec<String>> {
    let columns: Vec<ColumnRow> = diesel::sql_query(
        r#"/* fk-safe: catalog */ SELECT name, type AS declared_type, "notnull" AS not_null, pk
             FROM pragma_table_info(?, 'main')"#,
    )
    .bind::<Text, _>(table)
    .load(conn)?;
    let primary_key_columns = columns.iter().filter(|c| c.pk > 0).count();
    let rowid_alias = |column: &ColumnRow| {
        column.pk > 0
            && primary_key_columns == 1
            && column.declared_type.eq_ignore_ascii_case("INTEGER")
    };
    // Only a nullable-looking primary key column needs to know whether the
    // table has a rowid, which `pragma_table_list` (SQLite 3.37+) says. An
    // older system SQLite lacks it: its columns are then counted NOT NULL,
    // the side that never claims a NULL the database might refuse.
    let undecided = columns
        .iter()
        .any(|c| c.pk > 0 && c.not_null == 0 && !rowid_alias(c));
    let without_rowid = undecided
        && diesel::sql_query(
            "/* fk-safe: catalog */ SELECT wr AS flag FROM pragma_table_list(?) WHERE schema = 'main'",
        )
        .bind::<Text, _>(table)
        .load::<FlagRow>(conn)
        .map_or(true, |rows| rows.first().is_some_and(|row| row.flag != 0));
    Ok(columns
        .iter()
        .filter(|column| {
            let kept_from_null = column.pk > 0 && (without_rowid || rowid_alias(column));
            column.not_null == 0 && !kept_from_null
        })
        .map(|column| column.name.clone())
        .collect())
}

/// The tables of `main`, sorted, without SQLite's own (`sqlite_%`).
fn table_names<C: LoadConnection<Backend = Sqlite>>(conn: &mut C) -> QueryResult<Vec<String>> {
    let tables: Vec<NameRow> = diesel::sql_query(
        "/* fk-safe: catalog */ SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .load(conn)?;
    Ok(tables.into_iter().map(|row| row.name).collect())
}

pub(super) fn read_flag<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    pragma: &str,
) -> QueryResult<bool> {
    let rows: Vec<FlagRow> =
        diesel::sql_query(format!("SELECT {pragma} AS flag FROM pragma_{pragma}")).load(conn)?;
    Ok(rows.first().is_some_and(|r| r.flag != 0))
}

impl ReadCatalog for Sqlite {
    type Cache = SqliteCatalogCache;

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
        cache: &CatalogCache,
    ) -> QueryResult<Vec<ForeignKey>> {
        let mut all = Vec::new();
        for table in table_names(conn)? {
            let keys = table_foreign_keys(conn, cache, &table)?;
            all.extend(keys.iter().map(|(_, fk)| fk.clone()));
        }
        Ok(all)
    }

    fn list_tables<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
    ) -> QueryResult<Vec<(String, String)>> {
        Ok(table_names(conn)?
            .into_iter()
            .map(|table| (SCHEMA.to_string(), table))
            .collect())
    }

    fn foreign_keys_of_table<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        table: &str,
    ) -> QueryResult<Vec<ForeignKey>> {
        let keys = read_table_foreign_keys(conn, table)?;
        Ok(keys.into_iter().map(|(_, fk)| fk).collect())
    }
}

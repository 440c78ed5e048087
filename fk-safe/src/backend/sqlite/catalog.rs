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
fn read_table_foreign_keys<C: LoadConnection<Backend = Sqlite>>(
    conn: &mut C,
    table: &str,
) -> QueryResult<Vec<(i64, ForeignKey)>> {
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
    for index in implicit_targets {
        let parent = keys[index].1.parent_table.clone();
        let primary_key: Vec<NameRow> = diesel::sql_query(
            "/* fk-safe: catalog */ SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk",
        )
        .bind::<Text, _>(&parent)
        .load(conn)?;
        keys[index].1.parent_columns = primary_key.into_iter().map(|r| r.name).collect();
    }
    Ok(keys)
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
        let tables: Vec<NameRow> = diesel::sql_query(
            "/* fk-safe: catalog */ SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )
        .load(conn)?;
        let mut all = Vec::new();
        for table in tables {
            let keys = table_foreign_keys(conn, cache, &table.name)?;
            all.extend(keys.iter().map(|(_, fk)| fk.clone()));
        }
        Ok(all)
    }

    fn foreign_keys_of_table<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        cache: &CatalogCache,
        table: &str,
    ) -> QueryResult<Vec<ForeignKey>> {
        let _ = cache;
        let keys = read_table_foreign_keys(conn, table)?;
        Ok(keys.into_iter().map(|(_, fk)| fk).collect())
    }
}

//! PostgreSQL's catalog: foreign keys from `pg_constraint`, looked up by
//! the constraint name and table an error reports (both untranslated).

use std::collections::HashMap;
use std::sync::Arc;

use diesel::connection::LoadConnection;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Integer, Text};

use crate::backend::ReadCatalog;
use crate::cache::CatalogCache;
use crate::classify::postgres::fit::PossibleConstraint;
use crate::fk::{Deferrability, FkAction, ForeignKey, MatchType};

/// What PostgreSQL remembers of its catalog.
#[derive(Debug, Default)]
pub struct PgCatalogCache {
    /// (reported table, constraint name) -> the declared constraints those
    /// names can mean (one per schema that has them).
    by_constraint: HashMap<(String, String), Arc<Vec<PossibleConstraint>>>,
}

/// Columns of both queries below, in this order.
const SELECT_FOREIGN_KEY: &str = r#"
SELECT c.conname::text AS name,
       n.nspname::text AS schema,
       t.relname::text AS "table",
       ARRAY(SELECT a.attname::text
               FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS columns,
       ARRAY(SELECT NOT a.attnotnull AND a.attgenerated = '' AND ty.typtype <> 'd'
               FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
               JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
              ORDER BY k.ord) AS nullable,
       pn.nspname::text AS parent_schema,
       pt.relname::text AS parent_table,
       ARRAY(SELECT a.attname::text
               FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS parent_columns,
       c.confdeltype::text AS on_delete,
       c.confupdtype::text AS on_update,
       c.condeferrable AS deferrable,
       c.condeferred AS deferred,
       c.confmatchtype::text AS match_type,
       c.convalidated AS validated"#;

/// Finds the constraint a failure reported and climbs from a partition's
/// clone (`conparentid <> 0`) to the constraint the user declared. Several
/// schemas may hold a table and constraint of the same names: all are
/// returned, and the error's DETAIL decides between them. `parent_side` is
/// true when the reported constraint is the clone PostgreSQL keeps for one
/// partition of a partitioned *parent*, which only deletes and updates of
/// that parent can trip.
fn lookup_sql() -> String {
    format!(
        r#"/* fk-safe: catalog */
WITH RECURSIVE hit AS (
    SELECT c.oid AS start_oid, c.oid, c.conparentid, 0 AS depth, c.confrelid AS hit_confrelid
      FROM pg_catalog.pg_constraint c
      JOIN pg_catalog.pg_class t ON t.oid = c.conrelid
     WHERE c.contype = 'f' AND c.conname = $1 AND t.relname = $2
    UNION ALL
    SELECT hit.start_oid, p.oid, p.conparentid, hit.depth + 1, hit.hit_confrelid
      FROM hit JOIN pg_catalog.pg_constraint p ON p.oid = hit.conparentid
     WHERE hit.conparentid <> 0
), root AS (
    SELECT DISTINCT ON (start_oid) start_oid, oid, hit_confrelid
      FROM hit ORDER BY start_oid, depth DESC
)
{SELECT_FOREIGN_KEY},
       (root.hit_confrelid <> c.confrelid) AS parent_side,
       current_setting('server_version_num')::int AS server_version
  FROM root
  JOIN pg_catalog.pg_constraint c ON c.oid = root.oid
  JOIN pg_catalog.pg_class t ON t.oid = c.conrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
  JOIN pg_catalog.pg_class pt ON pt.oid = c.confrelid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = pt.relnamespace
 ORDER BY n.nspname"#
    )
}

/// Every declared foreign key, or (with `filter` as `AND t.relname = $1`)
/// those of the tables of one name, in every schema.
fn list_sql(filter: &str) -> String {
    format!(
        r#"/* fk-safe: catalog */{SELECT_FOREIGN_KEY},
       false AS parent_side,
       current_setting('server_version_num')::int AS server_version
  FROM pg_catalog.pg_constraint c
  JOIN pg_catalog.pg_class t ON t.oid = c.conrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
  JOIN pg_catalog.pg_class pt ON pt.oid = c.confrelid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = pt.relnamespace
 WHERE c.contype = 'f' AND c.conparentid = 0
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND (n.nspname NOT LIKE 'pg\_temp\_%' OR n.oid = pg_catalog.pg_my_temp_schema())
   AND n.nspname NOT LIKE 'pg\_toast%' {filter}
 ORDER BY n.nspname, t.relname, c.conname"#
    )
}

#[derive(QueryableByName)]
struct ConstraintRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    schema: String,
    #[diesel(sql_type = Text)]
    table: String,
    #[diesel(sql_type = Array<Text>)]
    columns: Vec<String>,
    #[diesel(sql_type = Array<Bool>)]
    nullable: Vec<bool>,
    #[diesel(sql_type = Text)]
    parent_schema: String,
    #[diesel(sql_type = Text)]
    parent_table: String,
    #[diesel(sql_type = Array<Text>)]
    parent_columns: Vec<String>,
    #[diesel(sql_type = Text)]
    on_delete: String,
    #[diesel(sql_type = Text)]
    on_update: String,
    #[diesel(sql_type = Bool)]
    deferrable: bool,
    #[diesel(sql_type = Bool)]
    deferred: bool,
    #[diesel(sql_type = Text)]
    match_type: String,
    #[diesel(sql_type = Bool)]
    validated: bool,
    #[diesel(sql_type = Bool)]
    parent_side: bool,
    #[diesel(sql_type = Integer)]
    server_version: i32,
}

#[derive(QueryableByName)]
struct TableRow {
    #[diesel(sql_type = Text)]
    schema: String,
    #[diesel(sql_type = Text)]
    table: String,
}

impl ConstraintRow {
    fn into_foreign_key(self) -> ForeignKey {
        ForeignKey {
            name: Some(self.name),
            schema: self.schema,
            table: self.table,
            columns: self.columns,
            nullable: self.nullable,
            parent_schema: self.parent_schema,
            parent_table: self.parent_table,
            parent_columns: self.parent_columns,
            // pg_constraint only ever holds these five codes; NO ACTION is
            // the documented meaning of anything unexpected.
            on_delete: FkAction::parse(&self.on_delete).unwrap_or(FkAction::NoAction),
            on_update: FkAction::parse(&self.on_update).unwrap_or(FkAction::NoAction),
            deferrability: Some(match (self.deferrable, self.deferred) {
                (false, _) => Deferrability::NotDeferrable,
                (true, false) => Deferrability::InitiallyImmediate,
                (true, true) => Deferrability::InitiallyDeferred,
            }),
            // pg_constraint only ever holds these three codes; SIMPLE is the
            // default and what an unknown code is read as.
            match_type: match self.match_type.as_str() {
                "f" => MatchType::Full,
                "p" => MatchType::Partial,
                _ => MatchType::Simple,
            },
            validated: self.validated,
        }
    }
}

/// Every declared constraint the (table, constraint) names of a failure can
/// mean, from the cache or from `pg_constraint`.
pub(super) fn possible_constraints<C: LoadConnection<Backend = Pg>>(
    conn: &mut C,
    cache: &CatalogCache,
    table: &str,
    constraint: &str,
    fresh: bool,
) -> Result<Arc<Vec<PossibleConstraint>>, String> {
    let key = (table.to_string(), constraint.to_string());
    if !fresh {
        let cached = cache.with(|pg: &mut PgCatalogCache| pg.by_constraint.get(&key).cloned());
        if let Some(found) = cached {
            return Ok(found);
        }
    }
    let rows: Vec<ConstraintRow> = diesel::sql_query(lookup_sql())
        .bind::<Text, _>(constraint)
        .bind::<Text, _>(table)
        .load(conn)
        .map_err(|e| e.to_string())?;
    let found: Arc<Vec<PossibleConstraint>> = Arc::new(
        rows.into_iter()
            .map(|row| {
                let (parent_side, server_version) = (row.parent_side, row.server_version);
                PossibleConstraint {
                    fk: Arc::new(row.into_foreign_key()),
                    parent_side,
                    server_version,
                }
            })
            .collect(),
    );
    if found.is_empty() {
        return Err(format!(
            "no foreign key \"{constraint}\" on a table \"{table}\" in pg_constraint"
        ));
    }
    cache.with(|pg: &mut PgCatalogCache| pg.by_constraint.insert(key, Arc::clone(&found)));
    Ok(found)
}

impl ReadCatalog for Pg {
    type Cache = PgCatalogCache;

    fn enforce_foreign_keys<C: LoadConnection<Backend = Self>>(_conn: &mut C) -> QueryResult<()> {
        Ok(())
    }

    fn list_foreign_keys<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        _cache: &CatalogCache,
    ) -> QueryResult<Vec<ForeignKey>> {
        let rows: Vec<ConstraintRow> = diesel::sql_query(list_sql("")).load(conn)?;
        Ok(rows
            .into_iter()
            .map(ConstraintRow::into_foreign_key)
            .collect())
    }

    fn list_tables<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
    ) -> QueryResult<Vec<(String, String)>> {
        // Other sessions' temporary schemas hold tables this session can
        // neither read nor write; its own is listed.
        let rows: Vec<TableRow> = diesel::sql_query(
            r#"/* fk-safe: catalog */ SELECT n.nspname::text AS schema, t.relname::text AS "table"
  FROM pg_catalog.pg_class t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
 WHERE t.relkind IN ('r', 'p') AND NOT t.relispartition
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\_toast%'
   AND (n.nspname NOT LIKE 'pg\_temp\_%' OR n.oid = pg_catalog.pg_my_temp_schema())
 ORDER BY n.nspname, t.relname"#,
        )
        .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|row| (row.schema, row.table))
            .collect())
    }

    fn foreign_keys_of_table<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        table: &str,
    ) -> QueryResult<Vec<ForeignKey>> {
        let rows: Vec<ConstraintRow> = diesel::sql_query(list_sql("AND t.relname = $1"))
            .bind::<Text, _>(table)
            .load(conn)?;
        Ok(rows
            .into_iter()
            .map(ConstraintRow::into_foreign_key)
            .collect())
    }
}

//! PostgreSQL's audit facts: indexes from `pg_index`, column types from
//! `format_type`, joined by oid and read outside the system schemas and
//! other sessions' temporary schemas, as the catalog of foreign keys is.

use diesel::connection::LoadConnection;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Nullable, Text};

use crate::backend::audit::{index_name, ColumnFacts, IndexFacts, PartitionFacts, ReadAudit};
use crate::sql::{quote_ident, CATALOG_READ_MARK};

/// The schemas the catalog reads (`n` is the table's namespace), narrowed
/// to `$1` unless it is empty.
const SCHEMAS: &str = r"n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\_toast%'
   AND (n.nspname NOT LIKE 'pg\_temp\_%' OR n.oid = pg_catalog.pg_my_temp_schema())
   AND (cardinality($1::text[]) = 0 OR n.nspname = ANY ($1::text[]))";

fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|name| quote_ident(name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(QueryableByName)]
struct IndexRow {
    #[diesel(sql_type = Text)]
    schema: String,
    #[diesel(sql_type = Text)]
    table: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Array<Nullable<Text>>)]
    columns: Vec<Option<String>>,
    #[diesel(sql_type = Array<Bool>)]
    collation_matches: Vec<bool>,
    #[diesel(sql_type = Text)]
    method: String,
    #[diesel(sql_type = Bool)]
    partial: bool,
    #[diesel(sql_type = Bool)]
    valid: bool,
    #[diesel(sql_type = Bool)]
    primary: bool,
    #[diesel(sql_type = Bool)]
    unique: bool,
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    schema: String,
    #[diesel(sql_type = Text)]
    table: String,
    #[diesel(sql_type = Text)]
    column: String,
    #[diesel(sql_type = Text)]
    declared: String,
    #[diesel(sql_type = Text)]
    compared_as: String,
    #[diesel(sql_type = Bool)]
    primary_key: bool,
    #[diesel(sql_type = Bool)]
    partition: bool,
}

#[derive(QueryableByName)]
struct PartitionRow {
    #[diesel(sql_type = Text)]
    schema: String,
    #[diesel(sql_type = Text)]
    table: String,
    #[diesel(sql_type = Text)]
    partition_schema: String,
    #[diesel(sql_type = Text)]
    partition: String,
}

#[derive(QueryableByName)]
struct SchemaRow {
    #[diesel(sql_type = Text)]
    schema: String,
}

#[derive(QueryableByName)]
struct ResolvedRow {
    #[diesel(sql_type = Text)]
    schema: String,
    #[diesel(sql_type = Text)]
    table: String,
}

impl ReadAudit for Pg {
    const DANGLING_FOREIGN_KEYS: bool = false;
    const COMPARED_AS: &'static str = "base type";

    fn list_indexes<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        schemas: &[String],
    ) -> QueryResult<Vec<IndexFacts>> {
        // Only the first indnkeyatts positions are searchable keys (the rest
        // are INCLUDE columns); attnum 0 is an expression, named NULL.
        let rows: Vec<IndexRow> = diesel::sql_query(format!(
            r#"{CATALOG_READ_MARK} SELECT n.nspname::text AS schema, t.relname::text AS "table",
       i.relname::text AS name,
       ARRAY(SELECT a.attname::text
               FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
               LEFT JOIN pg_catalog.pg_attribute a
                      ON a.attrelid = x.indrelid AND a.attnum = k.attnum AND k.attnum <> 0
              WHERE k.ord <= x.indnkeyatts
              ORDER BY k.ord) AS columns,
       ARRAY(SELECT COALESCE(k.coll = 0 OR k.coll = a.attcollation, true)
               FROM unnest(x.indkey::int2[], x.indcollation::oid[]) WITH ORDINALITY AS k(attnum, coll, ord)
               LEFT JOIN pg_catalog.pg_attribute a
                      ON a.attrelid = x.indrelid AND a.attnum = k.attnum AND k.attnum <> 0
              WHERE k.ord <= x.indnkeyatts
              ORDER BY k.ord) AS collation_matches,
       am.amname::text AS method,
       x.indpred IS NOT NULL AS partial,
       (x.indisvalid AND x.indisready AND x.indislive) AS valid,
       x.indisprimary AS "primary",
       x.indisunique AS "unique"
  FROM pg_catalog.pg_index x
  JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
  JOIN pg_catalog.pg_am am ON am.oid = i.relam
  JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
 WHERE {SCHEMAS}
 ORDER BY n.nspname, t.relname, i.relname"#
        ))
        .bind::<Array<Text>, _>(schemas)
        .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|row| IndexFacts {
                schema: row.schema,
                table: row.table,
                name: row.name,
                columns: row.columns,
                collation_matches: row.collation_matches,
                method: row.method,
                partial: row.partial,
                valid: row.valid,
                primary: row.primary,
                unique: row.unique,
            })
            .collect())
    }

    fn list_columns<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        schemas: &[String],
    ) -> QueryResult<Vec<ColumnFacts>> {
        // A domain compares as the type it is over (the key's lookups use
        // that type's operators): walk domains over domains down to the
        // base type, each step taking the domain's modifier, as
        // getBaseTypeAndTypmod does (a column of a domain has none of its
        // own). The depth bound only guards against a corrupt catalog.
        let rows: Vec<ColumnRow> = diesel::sql_query(format!(
            r#"{CATALOG_READ_MARK} SELECT n.nspname::text AS schema, t.relname::text AS "table",
       a.attname::text AS "column",
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS declared,
       (WITH RECURSIVE d(typid, typmod, depth) AS (
            SELECT a.atttypid, a.atttypmod, 0
            UNION ALL
            SELECT ty.typbasetype, ty.typtypmod, d.depth + 1
              FROM d JOIN pg_catalog.pg_type ty ON ty.oid = d.typid
             WHERE ty.typtype = 'd' AND d.depth < 1000)
        SELECT pg_catalog.format_type(d.typid, d.typmod) FROM d
         ORDER BY d.depth DESC LIMIT 1) AS compared_as,
       EXISTS (SELECT 1 FROM pg_catalog.pg_constraint pk
                WHERE pk.conrelid = t.oid AND pk.contype = 'p'
                  AND a.attnum = ANY (pk.conkey)) AS primary_key,
       t.relispartition AS partition
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class t ON t.oid = a.attrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
 WHERE a.attnum > 0 AND NOT a.attisdropped
   AND t.relkind IN ('r', 'p')
   AND {SCHEMAS}
 ORDER BY n.nspname, t.relname, a.attnum"#
        ))
        .bind::<Array<Text>, _>(schemas)
        .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|row| ColumnFacts {
                schema: row.schema,
                table: row.table,
                column: row.column,
                compared_as: row.compared_as,
                declared: row.declared,
                primary_key: row.primary_key,
                partition: row.partition,
            })
            .collect())
    }

    fn list_partitions<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        schemas: &[String],
    ) -> QueryResult<Vec<PartitionFacts>> {
        // pg_partition_tree lists every level below a table; only leaves
        // hold rows (a foreign-table leaf is listed too: it has no index,
        // so it never counts as supported).
        let rows: Vec<PartitionRow> = diesel::sql_query(format!(
            r#"{CATALOG_READ_MARK} SELECT n.nspname::text AS schema, t.relname::text AS "table",
       pn.nspname::text AS partition_schema, pc.relname::text AS partition
  FROM pg_catalog.pg_class t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
 CROSS JOIN LATERAL pg_catalog.pg_partition_tree(t.oid) AS pt
  JOIN pg_catalog.pg_class pc ON pc.oid = pt.relid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
 WHERE t.relkind = 'p' AND pt.isleaf
   AND {SCHEMAS}
 ORDER BY 1, 2, 3, 4"#
        ))
        .bind::<Array<Text>, _>(schemas)
        .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|row| PartitionFacts {
                schema: row.schema,
                table: row.table,
                partition_schema: row.partition_schema,
                partition: row.partition,
            })
            .collect())
    }

    fn resolve_table<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        schema: Option<&str>,
        table: &str,
    ) -> QueryResult<Option<(String, String)>> {
        // to_regclass resolves a name as a statement would (search_path,
        // the session's own temporary schema first), and the quoting keeps
        // it from folding case or reading dots inside a name.
        let name = match schema {
            Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(table)),
            None => quote_ident(table),
        };
        let found: Vec<ResolvedRow> = diesel::sql_query(format!(
            r#"{CATALOG_READ_MARK} SELECT n.nspname::text AS schema, t.relname::text AS "table"
  FROM pg_catalog.pg_class t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
 WHERE t.oid = pg_catalog.to_regclass($1) AND t.relkind IN ('r', 'p')"#
        ))
        .bind::<Text, _>(name)
        .load(conn)?;
        Ok(found.into_iter().next().map(|row| (row.schema, row.table)))
    }

    fn existing_schemas<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        schemas: &[String],
    ) -> QueryResult<Vec<String>> {
        let found: Vec<SchemaRow> = diesel::sql_query(format!(
            "{CATALOG_READ_MARK} SELECT nspname::text AS schema FROM pg_catalog.pg_namespace \
             WHERE nspname = ANY ($1::text[]) ORDER BY nspname"
        ))
        .bind::<Array<Text>, _>(schemas)
        .load(conn)?;
        Ok(found.into_iter().map(|row| row.schema).collect())
    }

    /// Named like SQLite's (a migration can then drop or refer to it);
    /// PostgreSQL puts an index in its table's schema, so the name is not
    /// qualified.
    fn create_index_sql(schema: &str, table: &str, columns: &[String]) -> String {
        format!(
            "CREATE INDEX {} ON {}.{} ({})",
            quote_ident(&index_name(table, columns)),
            quote_ident(schema),
            quote_ident(table),
            quoted_list(columns)
        )
    }

    fn add_foreign_key_fix(
        (schema, table): (&str, &str),
        columns: &[String],
        (parent_schema, parent_table): (&str, &str),
        parent_columns: &[String],
    ) -> String {
        format!(
            "ALTER TABLE {}.{} ADD FOREIGN KEY ({}) REFERENCES {}.{} ({})",
            quote_ident(schema),
            quote_ident(table),
            quoted_list(columns),
            quote_ident(parent_schema),
            quote_ident(parent_table),
            quoted_list(parent_columns)
        )
    }

    fn same_name(a: &str, b: &str) -> bool {
        a == b
    }
}

//! SQLite's audit facts: `pragma_index_list` and `pragma_index_info` for
//! indexes, `pragma_table_info` for columns (their declared types and the
//! affinity that decides how values compare), all of `main`.

use diesel::connection::LoadConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::sqlite::Sqlite;

use super::SCHEMA;
use crate::backend::audit::{index_name, ColumnFacts, IndexFacts, PartitionFacts, ReadAudit};
use crate::sql::{quote_ident, CATALOG_READ_MARK};

fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|name| quote_ident(name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(QueryableByName)]
struct IndexColumnRow {
    #[diesel(sql_type = Text)]
    table: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    origin: String,
    #[diesel(sql_type = Bool)]
    partial: bool,
    #[diesel(sql_type = Bool)]
    unique: bool,
    #[diesel(sql_type = Nullable<Text>)]
    column: Option<String>,
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    table: String,
    #[diesel(sql_type = Text)]
    column: String,
    #[diesel(sql_type = Text)]
    declared: String,
    #[diesel(sql_type = BigInt)]
    pk: i64,
}

#[derive(QueryableByName)]
struct NameRow {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Whether `schemas` (empty: all) takes in `main`, the only schema read.
fn reads_main(schemas: &[String]) -> bool {
    schemas.is_empty() || schemas.iter().any(|s| s == SCHEMA)
}

/// The type affinity of a declared column type, by SQLite's own rules
/// (<https://www.sqlite.org/datatype3.html#determination_of_column_affinity>),
/// tried in this order.
fn affinity(declared: &str) -> &'static str {
    let upper = declared.to_ascii_uppercase();
    if upper.contains("INT") {
        "INTEGER"
    } else if ["CHAR", "CLOB", "TEXT"].iter().any(|t| upper.contains(t)) {
        "TEXT"
    } else if upper.contains("BLOB") || upper.trim().is_empty() {
        "BLOB"
    } else if ["REAL", "FLOA", "DOUB"].iter().any(|t| upper.contains(t)) {
        "REAL"
    } else {
        "NUMERIC"
    }
}

fn read_columns<C: LoadConnection<Backend = Sqlite>>(conn: &mut C) -> QueryResult<Vec<ColumnRow>> {
    diesel::sql_query(format!(
        r#"{CATALOG_READ_MARK} SELECT m.name AS "table", p.name AS "column", p.type AS declared, p.pk
             FROM main.sqlite_master AS m
             JOIN pragma_table_info(m.name, 'main') AS p
            WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
            ORDER BY m.name, p.cid"#
    ))
    .load(conn)
}

impl ReadAudit for Sqlite {
    const DANGLING_FOREIGN_KEYS: bool = true;
    const COMPARED_AS: &'static str = "affinity";

    fn list_indexes<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        schemas: &[String],
    ) -> QueryResult<Vec<IndexFacts>> {
        if !reads_main(schemas) {
            return Ok(Vec::new());
        }
        // pragma_index_info names no column for an expression (or the
        // rowid), which is what NULL stands for here.
        let rows: Vec<IndexColumnRow> = diesel::sql_query(format!(
            r#"{CATALOG_READ_MARK} SELECT m.name AS "table", l.name AS name, l.origin AS origin,
                    l.partial AS partial, l."unique" AS "unique", i.name AS "column"
             FROM main.sqlite_master AS m
             JOIN pragma_index_list(m.name, 'main') AS l
             JOIN pragma_index_info(l.name, 'main') AS i
            WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
            ORDER BY m.name, l.name, i.seqno"#
        ))
        .load(conn)?;
        let mut indexes: Vec<IndexFacts> = Vec::new();
        for row in rows {
            let same = indexes
                .last()
                .is_some_and(|last| last.table == row.table && last.name == row.name);
            if !same {
                indexes.push(IndexFacts {
                    schema: SCHEMA.to_string(),
                    table: row.table.clone(),
                    name: row.name.clone(),
                    columns: Vec::new(),
                    collation_matches: Vec::new(),
                    method: "btree".to_string(),
                    partial: row.partial,
                    valid: true,
                    primary: row.origin == "pk",
                    unique: row.unique,
                });
            }
            if let Some(last) = indexes.last_mut() {
                last.columns.push(row.column);
                last.collation_matches.push(true);
            }
        }
        // A rowid table's INTEGER PRIMARY KEY is the rowid, the table's own
        // b-tree key: no index is listed for it, and none is needed. Any
        // other primary key (WITHOUT ROWID too) has an index of origin pk.
        let columns = read_columns(conn)?;
        let mut tables: Vec<&str> = columns.iter().map(|c| c.table.as_str()).collect();
        tables.dedup();
        for table in tables {
            let keys: Vec<&ColumnRow> = columns
                .iter()
                .filter(|c| c.table == table && c.pk > 0)
                .collect();
            let has_pk_index = indexes.iter().any(|i| i.table == table && i.primary);
            if let [key] = keys[..] {
                if !has_pk_index {
                    indexes.push(IndexFacts {
                        schema: SCHEMA.to_string(),
                        table: table.to_string(),
                        name: "rowid".to_string(),
                        columns: vec![Some(key.column.clone())],
                        collation_matches: vec![true],
                        method: "btree".to_string(),
                        partial: false,
                        valid: true,
                        primary: true,
                        unique: true,
                    });
                }
            }
        }
        indexes.sort_by(|a, b| (&a.table, &a.name).cmp(&(&b.table, &b.name)));
        Ok(indexes)
    }

    fn list_columns<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        schemas: &[String],
    ) -> QueryResult<Vec<ColumnFacts>> {
        if !reads_main(schemas) {
            return Ok(Vec::new());
        }
        Ok(read_columns(conn)?
            .into_iter()
            .map(|row| ColumnFacts {
                schema: SCHEMA.to_string(),
                table: row.table,
                column: row.column,
                compared_as: affinity(&row.declared).to_string(),
                declared: row.declared,
                primary_key: row.pk > 0,
                partition: false,
            })
            .collect())
    }

    fn list_partitions<C: LoadConnection<Backend = Self>>(
        _conn: &mut C,
        _schemas: &[String],
    ) -> QueryResult<Vec<PartitionFacts>> {
        Ok(Vec::new())
    }

    fn resolve_table<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        schema: Option<&str>,
        table: &str,
    ) -> QueryResult<Option<(String, String)>> {
        if let Some(schema) = schema.filter(|schema| *schema != SCHEMA) {
            return Err(diesel::result::Error::QueryBuilderError(
                format!(
                    "the table {schema}.{table} is outside `main`, the only SQLite schema fk-safe reads"
                )
                .into(),
            ));
        }
        // An unqualified name reaches a temporary table before one of
        // `main`, and fk-safe reads no foreign keys of `temp`.
        if schema.is_none() {
            let temporary: Vec<NameRow> = diesel::sql_query(format!(
                "{CATALOG_READ_MARK} SELECT name FROM temp.sqlite_master \
                 WHERE type = 'table' AND name = ? COLLATE NOCASE"
            ))
            .bind::<Text, _>(table)
            .load(conn)?;
            if let Some(found) = temporary.first() {
                return Err(diesel::result::Error::QueryBuilderError(
                    format!(
                        "the table {table} resolves to the temporary table {}, whose foreign keys fk-safe does not read",
                        found.name
                    )
                    .into(),
                ));
            }
        }
        // SQLite matches table names without regard to ASCII case.
        let found: Vec<NameRow> = diesel::sql_query(format!(
            "{CATALOG_READ_MARK} SELECT name FROM main.sqlite_master \
             WHERE type = 'table' AND name = ? COLLATE NOCASE"
        ))
        .bind::<Text, _>(table)
        .load(conn)?;
        Ok(found
            .into_iter()
            .next()
            .map(|row| (SCHEMA.to_string(), row.name)))
    }

    fn existing_schemas<C: LoadConnection<Backend = Self>>(
        _conn: &mut C,
        schemas: &[String],
    ) -> QueryResult<Vec<String>> {
        Ok(schemas.iter().filter(|s| *s == SCHEMA).cloned().collect())
    }

    /// SQLite needs the name qualified by the schema, and the table bare.
    fn create_index_sql(schema: &str, table: &str, columns: &[String]) -> String {
        let name = index_name(table, columns);
        format!(
            "CREATE INDEX {}.{} ON {} ({})",
            quote_ident(schema),
            quote_ident(&name),
            quote_ident(table),
            quoted_list(columns)
        )
    }

    /// SQLite cannot add a constraint to an existing table.
    fn add_foreign_key_fix(
        (_, table): (&str, &str),
        columns: &[String],
        (_, parent_table): (&str, &str),
        parent_columns: &[String],
    ) -> String {
        format!(
            "recreate {} with FOREIGN KEY ({}) REFERENCES {} ({}) and copy its rows \
             (SQLite cannot add a constraint to an existing table)",
            quote_ident(table),
            quoted_list(columns),
            quote_ident(parent_table),
            quoted_list(parent_columns)
        )
    }

    fn same_name(a: &str, b: &str) -> bool {
        a.eq_ignore_ascii_case(b)
    }
}

#[cfg(test)]
mod tests {
    use super::affinity;

    #[test]
    fn affinities_follow_sqlites_rules() {
        assert_eq!(affinity("BIGINT"), "INTEGER");
        assert_eq!(affinity("VARCHAR(3)"), "TEXT");
        assert_eq!(affinity(""), "BLOB");
        assert_eq!(affinity("DOUBLE PRECISION"), "REAL");
        assert_eq!(affinity("DECIMAL(10,2)"), "NUMERIC");
        // "POINT" holds INT: SQLite's rule, not a reading of intent.
        assert_eq!(affinity("FLOATING POINT"), "INTEGER");
    }
}

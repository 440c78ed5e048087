//! PostgreSQL's rows for the integrity checks. A foreign key holds for the
//! rows of the table it is declared on, not for those of the table's
//! inheritance children (PostgreSQL's own checks read `FROM ONLY`), while
//! on a partitioned table it holds for every partition (which `ONLY` would
//! leave out, a partitioned table storing no rows of its own).
//!
//! A child row matches its parent as PostgreSQL's own validation
//! (`RI_Initial_Check` in `ri_triggers.c`) matches it: with the
//! constraint's own equality operator (`conpfeqop`, chosen when the
//! constraint was made, which need not be what `=` resolves to now), each
//! side cast to the operator's input type where its column's type differs,
//! and under the parent column's collation where the two collations differ.
//! A plain `=` between `text` and `char(3)` would compare as `bpchar`,
//! ignoring trailing spaces the constraint's `text` operator sees.

use diesel::connection::LoadConnection;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Nullable, Text};

use crate::backend::integrity::{CheckFailed, KeyRow, ReadRows};
use crate::fk::ForeignKey;
use crate::sql::{quote_ident, CATALOG_READ_MARK};

#[derive(QueryableByName)]
struct SettingRow {
    #[diesel(sql_type = Text)]
    value: String,
    #[diesel(sql_type = Text)]
    #[allow(dead_code)]
    changed: String,
}

#[derive(QueryableByName)]
struct PartitionedRow {
    #[diesel(sql_type = Bool)]
    partitioned: bool,
}

/// One column pair of a foreign key, with what comparing it takes.
#[derive(QueryableByName)]
struct KeyPairRow {
    #[diesel(sql_type = Integer)]
    position: i32,
    #[diesel(sql_type = Text)]
    child_column: String,
    #[diesel(sql_type = Text)]
    parent_column: String,
    #[diesel(sql_type = Text)]
    operator_schema: String,
    #[diesel(sql_type = Text)]
    operator: String,
    /// The operator's left input type, when the parent column's differs.
    #[diesel(sql_type = Nullable<Text>)]
    parent_cast: Option<String>,
    /// The operator's right input type, when the child column's differs.
    #[diesel(sql_type = Nullable<Text>)]
    child_cast: Option<String>,
    /// The parent column's collation, when the child column's differs.
    #[diesel(sql_type = Nullable<Text>)]
    parent_collation: Option<String>,
}

/// The pairs of a foreign key, by its table and name: `pg_constraint`
/// keeps the constraint's columns (`conkey`, `confkey`) and operators
/// (`conpfeqop`) in the same order. A type or collation is named with its
/// schema, quoted, as `ri_triggers.c` names them.
const KEY_PAIRS_SQL: &str = "SELECT k.position::int4 AS position,
        ca.attname::text AS child_column, pa.attname::text AS parent_column,
        opn.nspname::text AS operator_schema, o.oprname::text AS operator,
        CASE WHEN o.oprleft <> pa.atttypid
             THEN quote_ident(ltn.nspname) || '.' || quote_ident(lt.typname) END AS parent_cast,
        CASE WHEN o.oprright <> ca.atttypid
             THEN quote_ident(rtn.nspname) || '.' || quote_ident(rt.typname) END AS child_cast,
        CASE WHEN pa.attcollation <> ca.attcollation AND pa.attcollation <> 0
             THEN quote_ident(coln.nspname) || '.' || quote_ident(col.collname) END AS parent_collation
   FROM pg_catalog.pg_constraint con
   JOIN pg_catalog.pg_class cl ON cl.oid = con.conrelid
   JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
   CROSS JOIN LATERAL unnest(con.conkey, con.confkey, con.conpfeqop)
        WITH ORDINALITY AS k(child_attnum, parent_attnum, operator_oid, position)
   JOIN pg_catalog.pg_attribute ca ON ca.attrelid = con.conrelid AND ca.attnum = k.child_attnum
   JOIN pg_catalog.pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = k.parent_attnum
   JOIN pg_catalog.pg_operator o ON o.oid = k.operator_oid
   JOIN pg_catalog.pg_namespace opn ON opn.oid = o.oprnamespace
   JOIN pg_catalog.pg_type lt ON lt.oid = o.oprleft
   JOIN pg_catalog.pg_namespace ltn ON ltn.oid = lt.typnamespace
   JOIN pg_catalog.pg_type rt ON rt.oid = o.oprright
   JOIN pg_catalog.pg_namespace rtn ON rtn.oid = rt.typnamespace
   LEFT JOIN pg_catalog.pg_collation col ON col.oid = pa.attcollation
   LEFT JOIN pg_catalog.pg_namespace coln ON coln.oid = col.collnamespace
  WHERE con.contype = 'f' AND n.nspname = $1 AND cl.relname = $2 AND con.conname = $3
  ORDER BY k.position";

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

    fn key_matches<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        fk: &ForeignKey,
    ) -> Result<Vec<String>, CheckFailed> {
        let Some(name) = fk.name.as_deref() else {
            return Err(CheckFailed::Refused(
                "PostgreSQL names every foreign key; this one has no name".to_string(),
            ));
        };
        let pairs: Vec<KeyPairRow> =
            diesel::sql_query(format!("{CATALOG_READ_MARK} {KEY_PAIRS_SQL}"))
                .bind::<Text, _>(&fk.schema)
                .bind::<Text, _>(&fk.table)
                .bind::<Text, _>(name)
                .load(conn)?;
        let same_columns = pairs.len() == fk.columns.len()
            && pairs.iter().enumerate().all(|(index, pair)| {
                usize::try_from(pair.position) == Ok(index + 1)
                    && fk.columns.get(index) == Some(&pair.child_column)
                    && fk.parent_columns.get(index) == Some(&pair.parent_column)
            });
        if !same_columns {
            return Err(CheckFailed::Refused(format!(
                "{}.{} no longer has this constraint with these columns (changed or dropped \
                 since the catalog was read)",
                quote_ident(&fk.schema),
                quote_ident(&fk.table)
            )));
        }
        pairs
            .iter()
            .map(|pair| {
                let side = |alias: &str, column: &str, cast: &Option<String>| {
                    let column = format!("{alias}.{}", quote_ident(column));
                    match cast {
                        Some(ty) => format!("CAST({column} AS {ty})"),
                        None => column,
                    }
                };
                let mut matches = format!(
                    "{} OPERATOR({}.{}) {}",
                    side("p", &pair.parent_column, &pair.parent_cast),
                    quote_ident(&pair.operator_schema),
                    // An operator's name is its symbol, which is not quoted.
                    operator_symbol(&pair.operator)?,
                    side("c", &pair.child_column, &pair.child_cast),
                );
                if let Some(collation) = &pair.parent_collation {
                    matches.push_str(" COLLATE ");
                    matches.push_str(collation);
                }
                Ok(matches)
            })
            .collect()
    }

    fn confirm_orphans<C: LoadConnection<Backend = Self>>(
        _conn: &mut C,
        _fk: &ForeignKey,
        _counted: u64,
    ) -> Result<(), CheckFailed> {
        // PostgreSQL keeps no count of its own: `VALIDATE CONSTRAINT` stops
        // at the first orphan, and misses those written under
        // `session_replication_role = replica`.
        Ok(())
    }

    fn value_as_text(expression: &str) -> String {
        // Every type has a text form that tells its values apart (`bytea`
        // as `\x..`).
        format!("CAST({expression} AS TEXT)")
    }

    fn begin_reading<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        outermost: bool,
    ) -> QueryResult<Option<String>> {
        // PostgreSQL's own check reads past row-level security; a report
        // that let a policy hide rows would call them clean. With
        // `row_security = off`, a query a policy would filter fails, and
        // the foreign key is listed unchecked.
        if outermost {
            conn.batch_execute(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
                 SET LOCAL row_security = off",
            )?;
            return Ok(None);
        }
        let before: Vec<SettingRow> = diesel::sql_query(
            "SELECT current_setting('row_security') AS value, \
                    set_config('row_security', 'off', true) AS changed",
        )
        .load(conn)?;
        Ok(before.into_iter().next().map(|row| row.value))
    }

    fn end_reading<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        changed: Option<String>,
    ) -> QueryResult<()> {
        if let Some(before) = changed {
            diesel::sql_query(
                "SELECT set_config('row_security', $1, true) AS value, '' AS changed",
            )
            .bind::<Text, _>(before)
            .load::<SettingRow>(conn)?;
        }
        Ok(())
    }

    fn key_rows<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        sql: &str,
    ) -> QueryResult<Vec<KeyRow>> {
        diesel::sql_query(sql).load(conn)
    }
}

/// `operator` as it may appear inside `OPERATOR(..)`: an operator's name is
/// made of the characters `+ - * / < > = ~ ! @ # % ^ & | \` ?` only, and
/// never holds `--` or `/*` (which would start a comment); anything else is
/// refused rather than written into SQL.
fn operator_symbol(operator: &str) -> Result<&str, CheckFailed> {
    let symbol = |c: char| "+-*/<>=~!@#%^&|`?".contains(c);
    if !operator.is_empty()
        && operator.chars().all(symbol)
        && !operator.contains("--")
        && !operator.contains("/*")
    {
        Ok(operator)
    } else {
        Err(CheckFailed::Refused(format!(
            "the constraint's equality operator {operator:?} is not an operator name"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::operator_symbol;

    #[test]
    fn only_operator_characters_reach_sql() {
        assert_eq!(operator_symbol("=").ok(), Some("="));
        assert_eq!(operator_symbol("===").ok(), Some("==="));
        assert!(operator_symbol("= 1; DROP TABLE t").is_err());
        assert!(operator_symbol("=--").is_err());
        assert!(operator_symbol("=/*").is_err());
        assert!(operator_symbol("").is_err());
    }
}

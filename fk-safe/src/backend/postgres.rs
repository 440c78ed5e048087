//! PostgreSQL: the catalog is `pg_constraint`, looked up by the constraint
//! name and table that the error reports (both untranslated).

use std::sync::Arc;

use diesel::connection::LoadConnection;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::AstPass;
use diesel::sql_types::{Array, Bool, Text};

use super::{apply_foreign_key, Dialect};
use crate::catalog::{FkCatalog, ForeignKey};
use crate::classify::detail::{self, DetailSide};
use crate::error::Error;
use crate::graph::{write_skip_existing, Batch};
use crate::violation::{BackendKind, Deferrability, FkAction, FkViolation, ViolationKind};

/// Columns of both queries below, in this order.
const SELECT_FOREIGN_KEY: &str = r#"
SELECT c.conname::text AS name,
       n.nspname::text AS schema,
       t.relname::text AS "table",
       ARRAY(SELECT a.attname::text
               FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS columns,
       pn.nspname::text AS parent_schema,
       pt.relname::text AS parent_table,
       ARRAY(SELECT a.attname::text
               FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS parent_columns,
       c.confdeltype::text AS on_delete,
       c.confupdtype::text AS on_update,
       c.condeferrable AS deferrable,
       c.condeferred AS deferred"#;

/// Finds the constraint a failure reported and climbs from a partition's
/// clone (`conparentid <> 0`) to the constraint the user declared. Several
/// schemas may hold a table and constraint of the same names; `visible`
/// tells which one the session's search_path reaches.
fn lookup_sql() -> String {
    format!(
        r#"
WITH RECURSIVE hit AS (
    SELECT c.oid AS start_oid, c.oid, c.conparentid, 0 AS depth,
           pg_catalog.pg_table_is_visible(c.conrelid) AS visible
      FROM pg_catalog.pg_constraint c
      JOIN pg_catalog.pg_class t ON t.oid = c.conrelid
     WHERE c.contype = 'f' AND c.conname = $1 AND t.relname = $2
    UNION ALL
    SELECT hit.start_oid, p.oid, p.conparentid, hit.depth + 1, hit.visible
      FROM hit JOIN pg_catalog.pg_constraint p ON p.oid = hit.conparentid
     WHERE hit.conparentid <> 0
), root AS (
    SELECT DISTINCT ON (start_oid) start_oid, oid, visible
      FROM hit ORDER BY start_oid, depth DESC
)
{SELECT_FOREIGN_KEY},
       root.visible AS visible
  FROM root
  JOIN pg_catalog.pg_constraint c ON c.oid = root.oid
  JOIN pg_catalog.pg_class t ON t.oid = c.conrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
  JOIN pg_catalog.pg_class pt ON pt.oid = c.confrelid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = pt.relnamespace"#
    )
}

fn list_sql() -> String {
    format!(
        r#"{SELECT_FOREIGN_KEY},
       true AS visible
  FROM pg_catalog.pg_constraint c
  JOIN pg_catalog.pg_class t ON t.oid = c.conrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
  JOIN pg_catalog.pg_class pt ON pt.oid = c.confrelid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = pt.relnamespace
 WHERE c.contype = 'f' AND c.conparentid = 0
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
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
    #[diesel(sql_type = Bool)]
    visible: bool,
}

impl ConstraintRow {
    fn into_foreign_key(self) -> ForeignKey {
        ForeignKey {
            name: Some(self.name),
            schema: self.schema,
            table: self.table,
            columns: self.columns,
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
        }
    }
}

/// Reads (or takes from the cache) the declared constraint behind a failure.
fn declared_constraint<C: LoadConnection<Backend = Pg>>(
    conn: &mut C,
    catalog: &FkCatalog,
    table: &str,
    constraint: &str,
) -> Result<Arc<ForeignKey>, String> {
    let key = (table.to_string(), constraint.to_string());
    if let Some(found) = catalog.lock().by_constraint.get(&key) {
        return Ok(Arc::clone(found));
    }
    let rows: Vec<ConstraintRow> = diesel::sql_query(lookup_sql())
        .bind::<Text, _>(constraint)
        .bind::<Text, _>(table)
        .load(conn)
        .map_err(|e| e.to_string())?;
    let chosen = choose_candidate(rows, table, constraint)?;
    let chosen = Arc::new(chosen.into_foreign_key());
    catalog
        .lock()
        .by_constraint
        .insert(key, Arc::clone(&chosen));
    Ok(chosen)
}

/// One match is the answer; several (same names in several schemas) are
/// narrowed to the one on the search_path, or reported as ambiguous.
fn choose_candidate(
    mut rows: Vec<ConstraintRow>,
    table: &str,
    constraint: &str,
) -> Result<ConstraintRow, String> {
    if rows.len() > 1 {
        let schemas: Vec<String> = rows.iter().map(|r| r.schema.clone()).collect();
        rows.retain(|r| r.visible);
        if rows.len() != 1 {
            return Err(format!(
                "constraint \"{constraint}\" on table \"{table}\" exists in several schemas ({}) and the search_path does not single one out",
                schemas.join(", ")
            ));
        }
    }
    rows.pop().ok_or_else(|| {
        format!("no foreign key \"{constraint}\" on a table \"{table}\" in pg_constraint")
    })
}

/// Decides a translated message's kind from untranslated names: the DETAIL
/// lists the child's columns for a missing parent and the parent's columns
/// for a still-referenced key; failing that, the message names the parent
/// table only when the parent side was written.
fn infer_kind(violation: &FkViolation, fk: &ForeignKey) -> ViolationKind {
    if fk.columns != fk.parent_columns {
        if let Some(detail) = violation.detail.as_deref() {
            let child_opening = format!("({})=(", fk.columns.join(", "));
            let parent_opening = format!("({})=(", fk.parent_columns.join(", "));
            match (
                detail.contains(&child_opening),
                detail.contains(&parent_opening),
            ) {
                (true, false) => return ViolationKind::MissingParent,
                (false, true) => return ViolationKind::StillReferenced,
                _ => {}
            }
        }
    }
    let message = violation.database_message();
    let mut rest = message.replace(fk.name.as_deref().unwrap_or_default(), "\u{0}");
    if fk.table != fk.parent_table && fk.table.contains(&fk.parent_table) {
        rest = rest.replace(&fk.table, "\u{0}");
    }
    let mentions = count_delimited(&rest, &fk.parent_table);
    match (fk.table == fk.parent_table, mentions) {
        (false, 0) | (true, 1) => ViolationKind::MissingParent,
        (false, 1) | (true, 2) => ViolationKind::StillReferenced,
        _ => ViolationKind::Undetermined,
    }
}

/// Occurrences of `name` not glued to other identifier characters.
fn count_delimited(text: &str, name: &str) -> usize {
    if name.is_empty() {
        return 0;
    }
    let is_ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    text.match_indices(name)
        .filter(|(at, _)| {
            !is_ident(text[..*at].chars().next_back())
                && !is_ident(text[at + name.len()..].chars().next())
        })
        .count()
}

/// Key values from the DETAIL, for the side that failed. The table named in
/// the DETAIL is the relation that held the row, which for a partitioned
/// table may be a partition: both the reported and the declared name are
/// accepted.
fn key_values_from_detail(
    violation: &FkViolation,
    fk: &ForeignKey,
    reported_table: &str,
) -> Option<Vec<Option<String>>> {
    let detail = violation.detail.as_deref()?;
    let (columns, side, tables) = match violation.kind {
        ViolationKind::MissingParent => (
            &fk.columns,
            DetailSide::MissingParent,
            vec![fk.parent_table.as_str()],
        ),
        ViolationKind::StillReferenced => (
            &fk.parent_columns,
            DetailSide::StillReferenced,
            vec![reported_table, fk.table.as_str()],
        ),
        ViolationKind::Undetermined => return None,
    };
    tables
        .into_iter()
        .find_map(|table| detail::key_values(detail, columns, side, table))
}

/// PostgreSQL's wire protocol counts bind parameters in 16 bits.
const BIND_LIMIT: usize = 65_535;

impl Dialect for Pg {
    const KIND: BackendKind = BackendKind::Postgres;

    fn rows_per_statement(columns: usize) -> usize {
        (BIND_LIMIT / columns.max(1)).max(1)
    }

    /// `INSERT INTO t (a, b) SELECT v0, v1 FROM (VALUES ($1, $2, 0), ...)
    /// AS v (v0, v1, ord) ORDER BY ord RETURNING key`: volatile defaults such
    /// as `nextval()` are computed after the sort, so keys grow in input order.
    fn write_batch_insert<'b>(
        batch: &'b Batch<'_, Self>,
        out: &mut AstPass<'_, 'b, Self>,
    ) -> QueryResult<()> {
        out.push_sql("INSERT INTO ");
        (batch.write_table)(out)?;
        if !batch.columns.is_empty() {
            out.push_sql(" ");
            batch.write_column_list(out)?;
        }
        out.push_sql(" SELECT ");
        for i in 0..batch.columns.len() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_sql(&format!("fk_safe_v.v{i}"));
        }
        out.push_sql(" FROM (VALUES ");
        for (ord, (row, links)) in batch.rows.iter().enumerate() {
            if ord > 0 {
                out.push_sql(", ");
            }
            out.push_sql("(");
            row.write_values(links, out)?;
            if !batch.columns.is_empty() {
                out.push_sql(", ");
            }
            out.push_sql(&ord.to_string());
            out.push_sql(")");
        }
        out.push_sql(") AS fk_safe_v (");
        for i in 0..batch.columns.len() {
            out.push_sql(&format!("v{i}, "));
        }
        out.push_sql("fk_safe_ord) ORDER BY fk_safe_v.fk_safe_ord");
        write_skip_existing(batch, out)?;
        out.push_sql(" RETURNING CAST(");
        out.push_identifier(batch.key_column)?;
        out.push_sql(" AS BIGINT)");
        if let Some(natural_key) = batch.skip_existing {
            out.push_sql(", ");
            Self::write_natural_key_text(natural_key, out)?;
        }
        Ok(())
    }

    fn render(fragment: &dyn diesel::query_builder::QueryFragment<Self>) -> QueryResult<String> {
        let mut builder = diesel::pg::PgQueryBuilder::new();
        fragment.to_sql(&mut builder, &Pg)?;
        Ok(diesel::query_builder::QueryBuilder::finish(builder))
    }

    fn load_ints<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        query: crate::graph::IntQuery<'_>,
    ) -> QueryResult<Vec<i64>> {
        query.load::<i64>(conn)
    }

    fn write_natural_key_text(
        columns: &[&str],
        out: &mut AstPass<'_, '_, Self>,
    ) -> QueryResult<()> {
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                out.push_sql(" || chr(31) || ");
            }
            out.push_sql("CAST(");
            out.push_identifier(column)?;
            out.push_sql(" AS TEXT)");
        }
        Ok(())
    }

    fn load_pairs<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        query: crate::graph::PairQuery<'_, Self>,
    ) -> QueryResult<Vec<(i64, String)>> {
        query.load::<(i64, String)>(conn)
    }

    fn load_keys<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        batch: Batch<'_, Self>,
    ) -> QueryResult<Vec<i64>> {
        batch.load::<i64>(conn)
    }

    fn enforce_foreign_keys<C: LoadConnection<Backend = Self>>(_conn: &mut C) -> QueryResult<()> {
        Ok(())
    }

    fn list_foreign_keys<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        _catalog: &FkCatalog,
    ) -> QueryResult<Vec<ForeignKey>> {
        let rows: Vec<ConstraintRow> = diesel::sql_query(list_sql()).load(conn)?;
        Ok(rows
            .into_iter()
            .map(ConstraintRow::into_foreign_key)
            .collect())
    }

    fn explain<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        catalog: &FkCatalog,
        violation: &mut FkViolation,
    ) {
        let (Some(table), Some(constraint)) =
            (violation.child_table.clone(), violation.constraint.clone())
        else {
            return;
        };
        let fk = match declared_constraint(conn, catalog, &table, &constraint) {
            Ok(fk) => fk,
            Err(why) => {
                violation.catalog_error = Some(why);
                return;
            }
        };
        if violation.kind == ViolationKind::Undetermined {
            violation.kind = infer_kind(violation, &fk);
        }
        violation.key_values = key_values_from_detail(violation, &fk, &table);
        apply_foreign_key(violation, &fk);
        violation.catalog_error = None;
    }

    fn transaction<C, T, F>(conn: &mut C, catalog: &FkCatalog, mut work: F) -> Result<T, Error>
    where
        C: LoadConnection<Backend = Self>,
        F: FnMut(&mut C) -> Result<T, Error>,
    {
        // Diesel rolls the transaction (or savepoint) back before returning
        // the error, so the catalog is readable again by then.
        match conn.transaction(|conn| work(conn)) {
            Err(Error::ForeignKey(mut violation)) => {
                Self::explain(conn, catalog, &mut violation);
                Err(Error::ForeignKey(violation))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::count_delimited;

    #[test]
    fn delimited_counting() {
        assert_eq!(count_delimited("»orders« and »order_items«", "orders"), 1);
        assert_eq!(count_delimited("»order_items«", "order"), 0);
        assert_eq!(count_delimited("\"t\" on \"t\"", "t"), 2);
        assert_eq!(count_delimited("anything", ""), 0);
    }
}

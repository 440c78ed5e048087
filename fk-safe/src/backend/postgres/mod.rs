//! PostgreSQL: the catalog is `pg_constraint`, looked up by the constraint
//! name and table that the error reports (both untranslated).

mod key_order;

use std::sync::Arc;

use diesel::connection::LoadConnection;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::AstPass;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Array, Bool, Integer, Text};

use super::{apply_foreign_key, FkBackend};
use crate::catalog::{FkCatalog, ForeignKey};
use crate::classify::detail::{self, DetailSide};
use crate::error::Error;
use crate::graph::Batch;
use crate::violation::{Database, Deferrability, FkAction, FkViolation, ViolationKind};

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
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') {filter}
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
    parent_side: bool,
    #[diesel(sql_type = Integer)]
    server_version: i32,
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

/// A declared constraint that may be the one a failure reported.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) fk: Arc<ForeignKey>,
    /// Reported through a clone kept for a partition of the parent.
    pub(crate) parent_side: bool,
    /// The server's `server_version_num` (180000 and up: PostgreSQL 18,
    /// which reports RESTRICT with its own SQLSTATE).
    pub(crate) server_version: i32,
}

/// Every declared constraint the (table, constraint) names of a failure can
/// mean, from the cache or from `pg_constraint`.
fn candidates<C: LoadConnection<Backend = Pg>>(
    conn: &mut C,
    catalog: &FkCatalog,
    table: &str,
    constraint: &str,
    fresh: bool,
) -> Result<Arc<Vec<Candidate>>, String> {
    let key = (table.to_string(), constraint.to_string());
    if !fresh {
        if let Some(found) = catalog.lock().by_constraint.get(&key) {
            return Ok(Arc::clone(found));
        }
    }
    let rows: Vec<ConstraintRow> = diesel::sql_query(lookup_sql())
        .bind::<Text, _>(constraint)
        .bind::<Text, _>(table)
        .load(conn)
        .map_err(|e| e.to_string())?;
    let found: Arc<Vec<Candidate>> = Arc::new(
        rows.into_iter()
            .map(|row| {
                let (parent_side, server_version) = (row.parent_side, row.server_version);
                Candidate {
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
    catalog.lock().by_constraint.insert(key, Arc::clone(&found));
    Ok(found)
}

/// Whether what the DETAIL names (untranslated identifiers only) fits a
/// candidate: its column list is the child's or the parent's columns, and a
/// missing parent's DETAIL names the candidate's parent table.
fn fits_detail(detail: Option<&str>, kind: ViolationKind, fk: &ForeignKey) -> bool {
    let Some(detail) = detail else {
        return true;
    };
    if !detail.contains(")=(") {
        // No privilege, or MATCH FULL: the DETAIL names no key.
        return true;
    }
    let child = format!("({})=(", fk.columns.join(", "));
    let parent = format!("({})=(", fk.parent_columns.join(", "));
    let columns_fit = match kind {
        ViolationKind::MissingParent => detail.contains(&child),
        ViolationKind::StillReferenced => detail.contains(&parent),
        _ => detail.contains(&child) || detail.contains(&parent),
    };
    let parent_named =
        kind != ViolationKind::MissingParent || count_delimited(detail, &fk.parent_table) > 0;
    columns_fit && parent_named
}

/// Whether a candidate's actions can raise the error's SQLSTATE. Only NO
/// ACTION and RESTRICT refuse to delete or re-key a referenced parent (the
/// others change the children instead). PostgreSQL 18 raises 23001
/// (`RestrictViolation`) for RESTRICT and keeps 23503 for NO ACTION; older
/// servers raise 23503 for both. Which of the two actions (delete or
/// update) applied is not known, so either may match.
fn fits_error_code(violation: &FkViolation, candidate: &Candidate) -> bool {
    let actions = [candidate.fk.on_delete, candidate.fk.on_update];
    if error_kind(violation) == Some(&DatabaseErrorKind::RestrictViolation) {
        return actions.contains(&FkAction::Restrict);
    }
    if violation.kind != ViolationKind::StillReferenced {
        return true;
    }
    if candidate.server_version >= 180_000 {
        actions.contains(&FkAction::NoAction)
    } else {
        actions
            .iter()
            .any(|a| matches!(a, FkAction::NoAction | FkAction::Restrict))
    }
}

fn error_kind(violation: &FkViolation) -> Option<&DatabaseErrorKind> {
    match &violation.source {
        Some(DieselError::DatabaseError(kind, _)) => Some(kind),
        _ => None,
    }
}

/// The candidates a failure fits (its DETAIL and its SQLSTATE); the cache
/// is read again once when none fits, in case the constraint was re-created
/// since it was cached.
fn matching_candidates<C: LoadConnection<Backend = Pg>>(
    conn: &mut C,
    catalog: &FkCatalog,
    violation: &FkViolation,
    table: &str,
    constraint: &str,
) -> Result<Vec<Candidate>, String> {
    let fits = |all: &[Candidate]| -> Vec<Candidate> {
        all.iter()
            .filter(|c| {
                fits_detail(violation.detail.as_deref(), violation.kind, &c.fk)
                    && fits_error_code(violation, c)
            })
            .cloned()
            .collect()
    };
    let cached = candidates(conn, catalog, table, constraint, false)?;
    let mut fitting = fits(&cached);
    if fitting.is_empty() {
        let fresh = candidates(conn, catalog, table, constraint, true)?;
        fitting = fits(&fresh);
    }
    if fitting.is_empty() {
        return Err(format!(
            "constraint \"{constraint}\" on table \"{table}\" in pg_constraint does not match the error (its DETAIL and SQLSTATE)"
        ));
    }
    Ok(fitting)
}

/// What every candidate says alike, or `None` when they differ.
fn agreed<T: PartialEq>(all: &[Candidate], field: impl Fn(&Candidate) -> T) -> Option<T> {
    let mut values = all.iter().map(field);
    let first = values.next()?;
    values.all(|v| v == first).then_some(first)
}

/// Completes a violation from the candidates that fit it. One candidate is
/// the answer. Several (the same names in several schemas) give what they
/// all agree on, field by field, and nothing they disagree on: fk-safe never
/// chooses between them. The data cannot choose either: the failed work was
/// rolled back and other sessions may have written since, so no row seen
/// now proves which schema's constraint failed (the work may have written
/// the very child or parent rows it then tripped over, in any schema).
fn apply_candidates(
    violation: &mut FkViolation,
    mut fitting: Vec<Candidate>,
    table: &str,
    constraint: &str,
) {
    if violation.kind == ViolationKind::Undetermined {
        violation.kind = agreed(&fitting, |c| infer_kind(violation, c, table))
            .unwrap_or(ViolationKind::Undetermined);
        // A kind learnt only now (a translated message) lets the SQLSTATE
        // rule out more candidates. None left means no candidate's actions
        // can fail that way: the inferred kind contradicts the catalog, and
        // is dropped rather than trusted.
        let by_code: Vec<Candidate> = fitting
            .iter()
            .filter(|c| fits_error_code(violation, c))
            .cloned()
            .collect();
        if by_code.is_empty() {
            violation.kind = ViolationKind::Undetermined;
        } else {
            fitting = by_code;
        }
    }
    let fitting = fitting.as_slice();
    violation.key_values =
        agreed(fitting, |c| key_values_from_detail(violation, &c.fk, table)).flatten();
    if let [only] = fitting {
        apply_foreign_key(violation, &only.fk);
        return;
    }
    let fk = |c: &Candidate| Arc::clone(&c.fk);
    if let Some(name) = agreed(fitting, |c| fk(c).name.clone()).flatten() {
        violation.constraint = Some(name);
    }
    violation.schema = agreed(fitting, |c| fk(c).schema.clone());
    if let Some(child) = agreed(fitting, |c| fk(c).table.clone()) {
        violation.child_table = Some(child);
    }
    violation.child_columns = agreed(fitting, |c| fk(c).columns.clone()).unwrap_or_default();
    violation.parent_schema = agreed(fitting, |c| fk(c).parent_schema.clone());
    violation.parent_table = agreed(fitting, |c| fk(c).parent_table.clone());
    violation.parent_columns =
        agreed(fitting, |c| fk(c).parent_columns.clone()).unwrap_or_default();
    violation.on_delete = agreed(fitting, |c| fk(c).on_delete);
    violation.on_update = agreed(fitting, |c| fk(c).on_update);
    violation.deferrability = agreed(fitting, |c| fk(c).deferrability).flatten();

    let differences: Vec<&str> = [
        (
            "columns",
            agreed(fitting, |c| fk(c).columns.clone()).is_none(),
        ),
        ("referenced table", violation.parent_table.is_none()),
        (
            "referenced columns",
            agreed(fitting, |c| fk(c).parent_columns.clone()).is_none(),
        ),
        ("ON DELETE", violation.on_delete.is_none()),
        ("ON UPDATE", violation.on_update.is_none()),
        (
            "deferrability",
            agreed(fitting, |c| fk(c).deferrability).is_none(),
        ),
        ("partitioning", agreed(fitting, |c| c.parent_side).is_none()),
    ]
    .into_iter()
    .filter_map(|(what, differs)| differs.then_some(what))
    .collect();
    if differences.is_empty() {
        // The same definition in several schemas: all is known but which
        // schema failed, and `schema()` says that by being `None`.
        return;
    }
    const NAMED: usize = 5;
    let mut schemas: Vec<&str> = fitting.iter().map(|c| c.fk.schema.as_str()).collect();
    schemas.dedup();
    let mut listed = schemas
        .iter()
        .take(NAMED)
        .map(|s| crate::sql::quote_ident(s))
        .collect::<Vec<_>>()
        .join(", ");
    if schemas.len() > NAMED {
        listed.push_str(&format!(" and {} more", schemas.len() - NAMED));
    }
    violation.note = Some(format!(
        "ambiguous: constraint \"{constraint}\" on table \"{table}\" exists in {} schemas ({listed}) that differ in {}, and the error does not say which schema's failed; only what they share is shown",
        schemas.len(),
        differences.join(", ")
    ));
}

/// Decides a translated message's kind without reading its words: a clone
/// kept for a partition of the parent only fails on the parent side; the
/// DETAIL lists the child's columns for a missing parent and the parent's
/// for a still-referenced key; failing both, the message names the parent
/// table (quoted as it quotes the reported table) only when the parent side
/// was written. Any doubt leaves the kind undetermined.
fn infer_kind(
    violation: &FkViolation,
    candidate: &Candidate,
    reported_table: &str,
) -> ViolationKind {
    if candidate.parent_side {
        return ViolationKind::StillReferenced;
    }
    let fk = &candidate.fk;
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
    let Some((open, close)) = quotes_around(message, reported_table) else {
        return ViolationKind::Undetermined;
    };
    let mentions = message
        .matches(&format!("{open}{}{close}", fk.parent_table))
        .count();
    match (fk.parent_table == reported_table, mentions) {
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

/// The quote characters a (translated) message puts around `name`, when it
/// quotes it one way only.
fn quotes_around(message: &str, name: &str) -> Option<(char, char)> {
    if name.is_empty() {
        return None;
    }
    let mut found: Option<(char, char)> = None;
    for (at, _) in message.match_indices(name) {
        let before = message[..at].chars().next_back();
        let after = message[at + name.len()..].chars().next();
        if let (Some(open), Some(close)) = (before, after) {
            if open.is_alphanumeric() || close.is_alphanumeric() || open == '_' || close == '_' {
                continue;
            }
            match found {
                None => found = Some((open, close)),
                Some(quotes) if quotes == (open, close) => {}
                Some(_) => return None,
            }
        }
    }
    found
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

impl FkBackend for Pg {
    fn table_keys<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        table: &str,
        key_column: &str,
        _rows: usize,
    ) -> QueryResult<crate::backend::key_order::TableKeys> {
        key_order::table_keys(conn, table, key_column)
    }

    fn key_order_still_holds<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        table: &str,
        key_column: &str,
        known: &crate::backend::key_order::TableKeys,
    ) -> QueryResult<bool> {
        let _ = (table, key_column);
        key_order::still_ascending(conn, known)
    }

    const KIND: Database = Database::Postgres;

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
        let columns = batch.written_columns().count();
        out.push_sql("INSERT INTO ");
        (batch.write_table)(out)?;
        if columns > 0 {
            out.push_sql(" ");
            batch.write_column_list(out)?;
        }
        out.push_sql(" SELECT ");
        for i in 0..columns {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_sql(&format!("fk_safe_v.v{i}"));
        }
        out.push_sql(" FROM (VALUES ");
        for ord in 0..batch.rows.len() {
            if ord > 0 {
                out.push_sql(", ");
            }
            out.push_sql("(");
            batch.write_row(ord, out)?;
            if columns > 0 {
                out.push_sql(", ");
            }
            out.push_sql(&ord.to_string());
            out.push_sql(")");
        }
        out.push_sql(") AS fk_safe_v (");
        for i in 0..columns {
            out.push_sql(&format!("v{i}, "));
        }
        out.push_sql("fk_safe_ord) ORDER BY fk_safe_v.fk_safe_ord");
        batch.write_tail(out)
    }

    fn render(fragment: &dyn diesel::query_builder::QueryFragment<Self>) -> QueryResult<String> {
        let mut builder = diesel::pg::PgQueryBuilder::new();
        fragment.to_sql(&mut builder, &Pg)?;
        Ok(diesel::query_builder::QueryBuilder::finish(builder))
    }

    fn push_key<'b>(
        out: &mut AstPass<'_, 'b, Self>,
        key: &'b crate::graph::KeyValue,
    ) -> QueryResult<()> {
        match key {
            #[cfg(feature = "uuid")]
            crate::graph::KeyValue::Uuid(value) => {
                out.push_bind_param::<diesel::sql_types::Uuid, uuid::Uuid>(value)
            }
            other => super::push_common_key(out, other, Self::push_key)
                .unwrap_or_else(|| Err(super::unsupported_key(other))),
        }
    }

    fn load_pairs<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        query: crate::graph::PairQuery<'_, Self>,
    ) -> QueryResult<Vec<(String, String)>> {
        query.load::<(String, String)>(conn)
    }

    fn load_keys<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        batch: Batch<'_, Self>,
    ) -> QueryResult<Vec<String>> {
        batch.load::<String>(conn)
    }

    fn enforce_foreign_keys<C: LoadConnection<Backend = Self>>(_conn: &mut C) -> QueryResult<()> {
        Ok(())
    }

    fn list_foreign_keys<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        _catalog: &FkCatalog,
    ) -> QueryResult<Vec<ForeignKey>> {
        let rows: Vec<ConstraintRow> = diesel::sql_query(list_sql("")).load(conn)?;
        Ok(rows
            .into_iter()
            .map(ConstraintRow::into_foreign_key)
            .collect())
    }

    fn foreign_keys_of_table<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        _catalog: &FkCatalog,
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
        match matching_candidates(conn, catalog, violation, &table, &constraint) {
            Ok(fitting) => apply_candidates(violation, fitting, &table, &constraint),
            Err(why) => {
                violation.catalog_error = Some(why);
                return;
            }
        }
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
    use super::{count_delimited, quotes_around};

    #[test]
    fn quotes_of_a_translated_message() {
        let german = "Aktualisieren oder Löschen in Tabelle »customers« verletzt Fremdschlüssel-Constraint »customer« von Tabelle »orders«";
        assert_eq!(quotes_around(german, "orders"), Some(('»', '«')));
        // The constraint's name inside the parent's name is not a mention of it.
        assert_eq!(german.matches("»customers«").count(), 1);
        assert_eq!(german.matches("»customer«").count(), 1);
        assert_eq!(quotes_around("on \"t\" and 't'", "t"), None);
        assert_eq!(quotes_around("nothing here", "orders"), None);
        assert_eq!(quotes_around("x", ""), None);
    }

    #[test]
    fn delimited_counting() {
        assert_eq!(count_delimited("»orders« and »order_items«", "orders"), 1);
        assert_eq!(count_delimited("»order_items«", "order"), 0);
        assert_eq!(count_delimited("\"t\" on \"t\"", "t"), 2);
        assert_eq!(count_delimited("anything", ""), 0);
    }
}

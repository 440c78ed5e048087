//! PostgreSQL: whether the keys of a multi-row `INSERT .. SELECT .. FROM
//! (VALUES ..) ORDER BY ord` follow its rows, decided from what the server
//! will evaluate for the key column in that INSERT, never from the sequence
//! a column happens to own (a default can be changed to anything while the
//! old sequence stays owned).
//!
//! Keys follow the rows only when all of this holds:
//! - the target is a table or a partitioned table (not a view, not a
//!   foreign table);
//! - the key column is an identity column, or its DEFAULT is exactly
//!   `nextval('<seq>'::regclass)` (possibly behind the implicit cast of a
//!   `serial` or `smallserial` column), checked on the expression tree and
//!   on its text, so a user function named `nextval` does not pass;
//! - that sequence increases and does not cycle;
//! - no `BEFORE` or `INSTEAD OF` row trigger on insert, on the table or on
//!   any of its partitions, can replace the key, and no `ON INSERT` rule
//!   rewrites the statement;
//! - nothing else the INSERT evaluates for each row (a default, a generated
//!   column, a CHECK constraint of the table or of a column's domain, a row
//!   security policy) calls a function of the user's, or `setval()`, which
//!   could move the sequence between two rows.
//!
//! What the catalog cannot show is another session calling `setval()` on
//! the sequence while the statement runs; where rows have a natural key,
//! the pairing is checked against it afterwards (see `graph/writer.rs`).
//!
//! The table is locked (`ROW EXCLUSIVE`, what the INSERT takes anyway)
//! before the answer is read, so that no default, trigger or rule can change
//! between the answer and the INSERT; the sequence, which cannot be locked,
//! is looked at again after the first statement (which holds it then). The answer is therefore only good for
//! the transaction that read it. Its statements open with the comment
//! [`CATALOG_READ_MARK`](crate::sql::CATALOG_READ_MARK).

use diesel::connection::LoadConnection;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Bool, Nullable, Text, Untyped};

use crate::backend::key_order::{KeyOrder, TableKeys};

/// One row of facts about `$1` (a rendered table name) and its column `$2`,
/// with `{TYPE_LEVELS}` standing for the levels of [`type_level`]. Never
/// raises an error for a table or column that does not exist.
const KEY_FACTS_TEMPLATE: &str = r#"/* fk-safe: catalog */
WITH target AS (
    SELECT c.oid, c.relkind
      FROM pg_catalog.pg_class c
     WHERE c.oid = pg_catalog.to_regclass($1)
), key_column AS (
    SELECT a.attrelid, a.attnum, a.attidentity, a.attgenerated
      FROM pg_catalog.pg_attribute a
      JOIN target ON a.attrelid = target.oid
     WHERE a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped
), key_default AS (
    SELECT d.oid, d.adbin, pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS expr
      FROM pg_catalog.pg_attrdef d
      JOIN key_column k ON d.adrelid = k.attrelid AND d.adnum = k.attnum
), identity_sequence AS (
    SELECT dep.objid AS seq
      FROM pg_catalog.pg_depend dep
      JOIN key_column k ON dep.refobjid = k.attrelid AND dep.refobjsubid = k.attnum
     WHERE k.attidentity <> ''
       AND dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND dep.deptype = 'i'
), default_sequence AS (
    SELECT s.oid AS seq
      FROM key_default d
      JOIN pg_catalog.pg_depend dep
        ON dep.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass
       AND dep.objid = d.oid
       AND dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
      JOIN pg_catalog.pg_class s ON s.oid = dep.refobjid AND s.relkind = 'S'
     WHERE d.expr = pg_catalog.format('nextval(%L::regclass)', s.oid::pg_catalog.regclass::text)
       -- pg_catalog.nextval(regclass) is oid 1574; int4(bigint) 480 and
       -- int2(bigint) 714 are the implicit casts of serial and smallserial.
       AND d.adbin::text ~ '^\{FUNCEXPR :funcid (1574|480|714) '
       AND pg_catalog.strpos(d.adbin::text, ':funcid 1574 ') > 0
), key_sequence AS (
    SELECT seq FROM identity_sequence
    UNION ALL
    SELECT seq FROM default_sequence
), relations AS (
    -- Arrays, not row sets, from here on: the planner's guesses for a
    -- function scan or a recursive union are large enough to make it JIT
    -- compile this query, which costs far more than running it.
    SELECT ARRAY(SELECT oid FROM target
                 UNION
                 SELECT relid FROM pg_catalog.pg_partition_tree((SELECT oid FROM target))) AS oids
), types_0 AS (
    SELECT ARRAY(SELECT DISTINCT a.atttypid
                   FROM pg_catalog.pg_attribute a, relations r
                  WHERE a.attrelid = ANY (r.oids) AND a.attnum > 0 AND NOT a.attisdropped) AS oids
{TYPE_LEVELS}), column_types AS (
    -- Three levels of domains over domains, arrays and composite fields;
    -- a type made of more than that is not followed (see too_deep).
    SELECT types_3.oids, (pg_catalog.cardinality(types_3.oids) > pg_catalog.cardinality(types_2.oids)) AS too_deep
      FROM types_2, types_3
), domains AS (
    SELECT ARRAY(SELECT t.oid FROM pg_catalog.pg_type t
                  WHERE t.oid = ANY ((SELECT ct.oids FROM column_types ct)::pg_catalog.oid[])
                    AND t.typtype = 'd') AS oids
), evaluated AS (
    -- Scalar arrays on the right of `= ANY`, so the catalogs' indexes serve.
    SELECT d.adbin::text AS tree FROM pg_catalog.pg_attrdef d
     WHERE d.adrelid = ANY ((SELECT r.oids FROM relations r)::pg_catalog.oid[])
    UNION ALL
    SELECT c.conbin::text FROM pg_catalog.pg_constraint c
     WHERE c.conbin IS NOT NULL AND c.conrelid = ANY ((SELECT r.oids FROM relations r)::pg_catalog.oid[])
    UNION ALL
    SELECT c.conbin::text FROM pg_catalog.pg_constraint c
     WHERE pg_catalog.cardinality((SELECT d.oids FROM domains d)) > 0
       AND c.conbin IS NOT NULL AND c.contypid = ANY ((SELECT d.oids FROM domains d)::pg_catalog.oid[])
    UNION ALL
    SELECT t.typdefaultbin::text FROM pg_catalog.pg_type t
     WHERE t.typdefaultbin IS NOT NULL AND t.oid = ANY ((SELECT d.oids FROM domains d)::pg_catalog.oid[])
    UNION ALL
    SELECT pg_catalog.concat(p.polqual::text, p.polwithcheck::text) FROM pg_catalog.pg_policy p
     WHERE p.polrelid = ANY ((SELECT r.oids FROM relations r)::pg_catalog.oid[])
), called AS (
    SELECT ARRAY(SELECT DISTINCT (pg_catalog.regexp_matches(e.tree, ':(?:op)?funcid (\d+)', 'g'))[1]::pg_catalog.oid
                   FROM evaluated e) AS oids
)
SELECT (SELECT relkind::text FROM target) AS relkind,
       EXISTS (SELECT 1 FROM key_column) AS has_column,
       COALESCE((SELECT attidentity::text FROM key_column), '') AS identity,
       COALESCE((SELECT attgenerated::text FROM key_column), '') AS generated,
       (SELECT expr FROM key_default) AS default_expr,
       (SELECT pg_catalog.string_agg(seq::pg_catalog.regclass::text, ', ') FROM key_sequence) AS sequence,
       (SELECT pg_catalog.count(*) = 1 FROM key_sequence) AS one_sequence,
       COALESCE((SELECT pg_catalog.bool_and(s.seqincrement > 0 AND NOT s.seqcycle)
                   FROM pg_catalog.pg_sequence s
                  WHERE s.seqrelid IN (SELECT seq FROM key_sequence)), false) AS ascending,
       -- Triggers on INSERT (bit 2) that run BEFORE (bit 1) or INSTEAD OF
       -- (bit 6) it: a row trigger can replace the key, a statement trigger
       -- can alter the sequence. Disabled ones count too, since
       -- session_replication_role can bring them back.
       (SELECT pg_catalog.min(tg.tgname::text || ' on ' || tg.tgrelid::pg_catalog.regclass::text)
          FROM pg_catalog.pg_trigger tg
         WHERE tg.tgrelid = ANY ((SELECT r.oids FROM relations r)::pg_catalog.oid[])
           AND (tg.tgtype & 4) = 4 AND (tg.tgtype & 66) <> 0) AS row_trigger,
       (SELECT pg_catalog.min(r.rulename::text)
          FROM pg_catalog.pg_rewrite r
         WHERE r.ev_class = (SELECT oid FROM target) AND r.ev_type = '3') AS insert_rule,
       -- What else the INSERT evaluates row by row could move the sequence
       -- between two rows: every function called by the table's defaults
       -- and CHECK constraints, its row security policies, and the
       -- defaults and CHECK constraints of the domains its columns are made
       -- of (nested domains, array elements and composite fields too). A
       -- function of the user's (oid 16384 and up) or a volatile built-in
       -- that is not known to leave sequences alone (setval, query_to_xml
       -- running SQL text, ..) makes the answer row by row.
       (SELECT pg_catalog.min(p.oid::pg_catalog.regprocedure::text)
          FROM pg_catalog.pg_proc p
         WHERE p.oid = ANY ((SELECT c.oids FROM called c)::pg_catalog.oid[])
           AND (p.oid >= 16384
            OR (p.provolatile = 'v' AND p.oid <> 1574
                AND p.proname NOT IN ('gen_random_uuid', 'uuidv4', 'uuidv7', 'random', 'random_normal',
                                      'clock_timestamp', 'timeofday', 'txid_current', 'pg_current_xact_id')
                AND p.proname !~ '^(pg_advisory|pg_try_advisory|pg_sleep)'))
       ) AS user_function,
       (SELECT too_deep FROM column_types) AS types_too_deep"#;

/// `types_<n>`: the types of `types_<n-1>` and what they are made of (a
/// domain's base type, an array's element type, a composite's field types).
fn type_level(n: usize) -> String {
    let below = n - 1;
    format!(
        r#"), types_{n} AS (
    SELECT ARRAY(SELECT x FROM types_{below}, pg_catalog.unnest(types_{below}.oids) x
                 UNION SELECT p.part FROM types_{below}, pg_catalog.pg_type t, LATERAL (
                     SELECT t.typbasetype AS part WHERE t.typbasetype <> 0
                     UNION ALL SELECT t.typelem WHERE t.typelem <> 0
                     UNION ALL SELECT fa.atttypid FROM pg_catalog.pg_attribute fa
                                WHERE t.typrelid <> 0 AND fa.attrelid = t.typrelid AND fa.attnum > 0) p
                  WHERE t.oid = ANY (types_{below}.oids)) AS oids
"#
    )
}

/// The facts query, built once.
fn key_facts_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let levels: String = (1..=3).map(type_level).collect();
        KEY_FACTS_TEMPLATE.replace("{TYPE_LEVELS}", &levels)
    })
}

#[derive(QueryableByName, Debug)]
struct KeyFacts {
    #[diesel(sql_type = Nullable<Text>)]
    relkind: Option<String>,
    #[diesel(sql_type = Bool)]
    has_column: bool,
    #[diesel(sql_type = Text)]
    identity: String,
    #[diesel(sql_type = Text)]
    generated: String,
    #[diesel(sql_type = Nullable<Text>)]
    default_expr: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    sequence: Option<String>,
    #[diesel(sql_type = Bool)]
    one_sequence: bool,
    #[diesel(sql_type = Bool)]
    ascending: bool,
    #[diesel(sql_type = Nullable<Text>)]
    row_trigger: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    insert_rule: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    user_function: Option<String>,
    #[diesel(sql_type = Bool)]
    types_too_deep: bool,
}

/// A catalog query whose text never changes, sent so that Diesel keeps it
/// prepared on the connection (`sql_query` never does): read once per table
/// and transaction, it is then planned once per connection, not each time.
/// `sql` holds `$1`, `$2`, .. once each, in order, for the `binds`.
struct PreparedCatalogQuery<'a> {
    sql: &'static str,
    binds: &'a [&'a str],
}

impl QueryId for PreparedCatalogQuery<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for PreparedCatalogQuery<'_> {
    type SqlType = Untyped;
}

impl<C> RunQueryDsl<C> for PreparedCatalogQuery<'_> {}

impl QueryFragment<Pg> for PreparedCatalogQuery<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut rest = self.sql;
        for (i, bind) in self.binds.iter().enumerate() {
            let marker = format!("${}", i + 1);
            let Some(at) = rest.find(&marker) else {
                return Err(diesel::result::Error::QueryBuilderError(
                    format!("fk-safe: a catalog query has no {marker}").into(),
                ));
            };
            out.push_sql(&rest[..at]);
            out.push_bind_param::<Text, str>(bind)?;
            rest = &rest[at + marker.len()..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

fn read_facts<C: LoadConnection<Backend = Pg>>(
    conn: &mut C,
    table: &str,
    key_column: &str,
) -> QueryResult<Option<KeyFacts>> {
    let rows: Vec<KeyFacts> = PreparedCatalogQuery {
        sql: key_facts_sql(),
        binds: &[table, key_column],
    }
    .load(conn)?;
    Ok(rows.into_iter().next())
}

/// Reads, with `table` (as Diesel renders it) locked, how the keys of its
/// `key_column` follow the rows of one statement.
/// What decides how `$1` (a rendered table name) is locked: its kind, and
/// whether this role may lock it and every partition it recurses into
/// (`ROW EXCLUSIVE` needs INSERT, UPDATE, DELETE or TRUNCATE on the whole
/// table; INSERT on some columns only is not enough, and before PostgreSQL
/// 15 the partitions are checked too).
const LOCKING: &str = r#"/* fk-safe: catalog */
SELECT c.relkind::text AS relkind,
       COALESCE((SELECT pg_catalog.bool_and(pg_catalog.has_table_privilege(rel, 'INSERT, UPDATE, DELETE, TRUNCATE'))
                   FROM (SELECT c.oid AS rel
                         UNION SELECT relid FROM pg_catalog.pg_partition_tree(c.oid)) r), false) AS can_lock
  FROM pg_catalog.pg_class c
 WHERE c.oid = pg_catalog.to_regclass($1)"#;

#[derive(QueryableByName)]
struct Locking {
    #[diesel(sql_type = Text)]
    relkind: String,
    #[diesel(sql_type = Bool)]
    can_lock: bool,
}

/// Whether the sequence `$1` still increases and does not cycle.
const SEQUENCE_ASCENDS: &str = r#"/* fk-safe: catalog */
SELECT COALESCE((SELECT s.seqincrement > 0 AND NOT s.seqcycle
                   FROM pg_catalog.pg_sequence s
                  WHERE s.seqrelid = pg_catalog.to_regclass($1)), false) AS ascends"#;

#[derive(QueryableByName)]
struct Ascends {
    #[diesel(sql_type = Bool)]
    ascends: bool,
}

/// Reads, with `table` (as Diesel renders it) locked, how the keys of its
/// `key_column` follow the rows of one statement.
pub(crate) fn table_keys<C: LoadConnection<Backend = Pg>>(
    conn: &mut C,
    table: &str,
    key_column: &str,
) -> QueryResult<TableKeys> {
    let locking: Vec<Locking> = PreparedCatalogQuery {
        sql: LOCKING,
        binds: &[table],
    }
    .load(conn)?;
    let Some(locking) = locking.into_iter().next() else {
        return Ok(TableKeys::row_by_row(format!(
            "{table} is not visible to this session"
        )));
    };
    if locking.relkind == "r" || locking.relkind == "p" {
        if !locking.can_lock {
            // Unlocked, the answer could change before the INSERT runs.
            return Ok(TableKeys::row_by_row(format!(
                "this role may not lock {table} and its partitions (INSERT on some columns or on the parent only)"
            )));
        }
        // Inheritance children play no part in an INSERT into the parent;
        // partitions do, and are locked with it.
        let only = if locking.relkind == "r" { "ONLY " } else { "" };
        diesel::sql_query(format!(
            "/* fk-safe: catalog */ LOCK TABLE {only}{table} IN ROW EXCLUSIVE MODE"
        ))
        .execute(conn)?;
    }
    // Read under the lock: no default, trigger or rule can change now.
    match read_facts(conn, table, key_column)? {
        Some(facts) => Ok(decide(&facts, table, key_column)),
        None => Ok(TableKeys::row_by_row(format!(
            "the catalog says nothing about {table}"
        ))),
    }
}

/// Whether keys read as ascending still are: the table lock does not cover
/// the sequence, whose `ALTER SEQUENCE` may have slipped in before the
/// statement's first `nextval()` (which later ones wait for).
pub(crate) fn still_ascending<C: LoadConnection<Backend = Pg>>(
    conn: &mut C,
    known: &TableKeys,
) -> QueryResult<bool> {
    let (KeyOrder::Ascending, Some(sequence)) = (&known.generated, &known.sequence) else {
        return Ok(true);
    };
    let rows: Vec<Ascends> = PreparedCatalogQuery {
        sql: SEQUENCE_ASCENDS,
        binds: &[sequence],
    }
    .load(conn)?;
    Ok(rows.first().is_some_and(|r| r.ascends))
}

fn decide(facts: &KeyFacts, table: &str, key_column: &str) -> TableKeys {
    let replaced_by = match (&facts.relkind, &facts.row_trigger, &facts.insert_rule) {
        (None, _, _) => Some(format!("{table} is not visible to this session")),
        (Some(kind), _, _) if kind != "r" && kind != "p" => Some(format!(
            "{table} is not a table (relkind {kind}): a view or foreign table decides its keys itself"
        )),
        (_, Some(trigger), _) => Some(format!(
            "trigger {trigger} runs before inserts and can replace keys or move the sequence"
        )),
        (_, _, Some(rule)) => Some(format!("rule {rule} rewrites inserts into {table}")),
        _ => None,
    };
    if let Some(why) = replaced_by {
        return TableKeys::row_by_row(why);
    }
    let generated = if !facts.has_column {
        KeyOrder::RowByRow(format!("{table} has no column {key_column}"))
    } else if !facts.generated.is_empty() {
        KeyOrder::RowByRow(format!(
            "{key_column} is a generated column, computed from the row"
        ))
    } else if !facts.one_sequence {
        KeyOrder::RowByRow(match (&facts.default_expr, facts.identity.is_empty()) {
            (Some(expr), true) => format!(
                "the default of {key_column} is {expr}, not exactly nextval() of a sequence"
            ),
            (None, true) => format!("{key_column} has no default and is not an identity column"),
            (_, false) => format!("the identity sequence of {key_column} was not found"),
        })
    } else if facts.types_too_deep {
        KeyOrder::RowByRow(format!(
            "a column of {table} has a type nested deeper than fk-safe follows (domains over domains, arrays, composites), whose checks and defaults it did not read"
        ))
    } else if let Some(function) = &facts.user_function {
        KeyOrder::RowByRow(format!(
            "inserting into {table} calls {function} for each row (a default, a CHECK \
             constraint or a policy), which could move the sequence between two rows"
        ))
    } else if !facts.ascending {
        KeyOrder::RowByRow(format!(
            "sequence {} of {key_column} decreases or cycles",
            facts.sequence.as_deref().unwrap_or("?")
        ))
    } else {
        KeyOrder::Ascending
    };
    let sequence = match generated {
        KeyOrder::Ascending => facts.sequence.clone(),
        _ => None,
    };
    TableKeys {
        generated,
        given_may_change: None,
        sequence,
    }
}

impl crate::backend::ReadKeyOrder for Pg {
    fn table_keys<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        table: &str,
        key_column: &str,
        _rows: usize,
    ) -> QueryResult<TableKeys> {
        table_keys(conn, table, key_column)
    }

    fn key_order_still_holds<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        table: &str,
        key_column: &str,
        known: &TableKeys,
    ) -> QueryResult<bool> {
        let _ = (table, key_column);
        still_ascending(conn, known)
    }
}

#[cfg(test)]
mod tests {
    use super::{key_facts_sql, LOCKING, SEQUENCE_ASCENDS};

    /// PreparedCatalogQuery binds `$1`, `$2`, .. in order, once each.
    #[test]
    fn catalog_queries_name_each_bind_once() {
        let facts = key_facts_sql();
        assert!(!facts.contains("{TYPE_LEVELS}"));
        assert_eq!(facts.matches("$1").count(), 1);
        assert_eq!(facts.matches("$2").count(), 1);
        assert!(facts.find("$1") < facts.find("$2"));
        assert!(facts.contains("types_3 AS ("));
        for single in [LOCKING, SEQUENCE_ASCENDS] {
            assert_eq!(single.matches("$1").count(), 1);
            assert!(!single.contains("$2"));
        }
        for sql in [facts, LOCKING, SEQUENCE_ASCENDS] {
            assert!(sql.starts_with(crate::sql::CATALOG_READ_MARK));
        }
    }
}

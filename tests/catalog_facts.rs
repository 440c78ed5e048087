//! What the catalog says of each constraint beyond its columns: how NULLs
//! match, and whether existing rows were ever checked.

mod common;

use diesel::prelude::*;
use fk_safe::{FkCatalog, ForeignKey, MatchType};

fn sql<C: diesel::Connection>(conn: &mut C, statement: &str)
where
    diesel::query_builder::SqlQuery: diesel::query_dsl::methods::ExecuteDsl<C>,
{
    diesel::sql_query(statement)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

fn named<'a>(keys: &'a [ForeignKey], schema: &str, table: &str) -> &'a ForeignKey {
    keys.iter()
        .find(|fk| fk.schema == schema && fk.table == table)
        .unwrap_or_else(|| panic!("no foreign key on {schema}.{table} in {keys:#?}"))
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_match_type_and_validation() {
    let schema = common::unique_name("fk_safe_facts");
    let mut conn = common::pg::connect_base();
    sql(&mut conn, &format!("CREATE SCHEMA \"{schema}\""));
    sql(&mut conn, &format!("SET search_path TO \"{schema}\""));
    sql(
        &mut conn,
        "CREATE TABLE p (a BIGINT, b BIGINT, PRIMARY KEY (a, b))",
    );
    sql(
        &mut conn,
        "CREATE TABLE full_child (a BIGINT, b BIGINT, FOREIGN KEY (a, b) REFERENCES p MATCH FULL)",
    );
    sql(
        &mut conn,
        "CREATE TABLE simple_child (a BIGINT, b BIGINT, FOREIGN KEY (a, b) REFERENCES p)",
    );
    sql(
        &mut conn,
        "CREATE TABLE unchecked_child (a BIGINT, b BIGINT)",
    );
    sql(&mut conn, "INSERT INTO unchecked_child VALUES (1, 1)");
    sql(
        &mut conn,
        "ALTER TABLE unchecked_child ADD FOREIGN KEY (a, b) REFERENCES p NOT VALID",
    );
    let keys = FkCatalog::new().foreign_keys(&mut conn).unwrap();
    let full = named(&keys, &schema, "full_child");
    assert_eq!((full.match_type, full.validated), (MatchType::Full, true));
    let simple = named(&keys, &schema, "simple_child");
    assert_eq!(
        (simple.match_type, simple.validated),
        (MatchType::Simple, true)
    );
    let unchecked = named(&keys, &schema, "unchecked_child");
    assert_eq!(
        (unchecked.match_type, unchecked.validated),
        (MatchType::Simple, false)
    );
    sql(&mut conn, &format!("DROP SCHEMA \"{schema}\" CASCADE"));
}

/// SQLite accepts a MATCH clause and enforces every key as MATCH SIMPLE:
/// the catalog says what is enforced.
#[cfg(feature = "sqlite")]
#[test]
fn sqlite_enforces_match_simple() {
    use fk_safe::FkConnection;

    let mut conn = SqliteConnection::establish(":memory:").unwrap();
    conn.enforce_foreign_keys().unwrap();
    sql(
        &mut conn,
        "CREATE TABLE p (a INTEGER, b INTEGER, PRIMARY KEY (a, b))",
    );
    sql(
        &mut conn,
        "CREATE TABLE c (a INTEGER, b INTEGER, FOREIGN KEY (a, b) REFERENCES p (a, b) MATCH FULL)",
    );
    // A half-NULL key is accepted, as MATCH SIMPLE accepts it.
    sql(&mut conn, "INSERT INTO c VALUES (1, NULL)");
    let keys = FkCatalog::new().foreign_keys(&mut conn).unwrap();
    let c = named(&keys, "main", "c");
    assert_eq!((c.match_type, c.validated), (MatchType::Simple, true));
}

/// SQLite matches table names without regard to case: a key declared
/// `REFERENCES authors` has the table created as `Authors` as its parent,
/// and the load order puts it first (a review found the child in the
/// parent's level).
#[cfg(feature = "sqlite")]
#[test]
fn sqlite_parents_are_spelled_as_created() {
    use fk_safe::integrity::load_order;
    use fk_safe::FkConnection;

    let mut conn = SqliteConnection::establish(":memory:").unwrap();
    conn.enforce_foreign_keys().unwrap();
    sql(&mut conn, "CREATE TABLE Authors (id INTEGER PRIMARY KEY)");
    sql(
        &mut conn,
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, author_id INTEGER REFERENCES authors (id))",
    );
    sql(
        &mut conn,
        "CREATE TABLE comments (id INTEGER PRIMARY KEY, post_id INTEGER REFERENCES POSTS (id))",
    );
    let catalog = FkCatalog::new();
    let keys = catalog.foreign_keys(&mut conn).unwrap();
    assert_eq!(named(&keys, "main", "posts").parent_table, "Authors");
    assert_eq!(named(&keys, "main", "comments").parent_table, "posts");
    let order = load_order::read(&mut conn, &catalog).unwrap();
    let levels: Vec<Vec<String>> = order
        .levels
        .iter()
        .map(|level| level.iter().map(|t| t.table.clone()).collect())
        .collect();
    assert_eq!(levels, [vec!["Authors"], vec!["posts"], vec!["comments"]]);
    assert!(order.cycles.is_empty());
}

/// A column of a domain type (which may refuse NULL) or a generated column
/// is never counted as one a NULL can be written to.
#[cfg(feature = "postgres")]
#[test]
fn postgres_domains_and_generated_columns_are_not_nullable() {
    let schema = common::unique_name("fk_safe_nulls");
    let mut conn = common::pg::connect_base();
    sql(&mut conn, &format!("CREATE SCHEMA \"{schema}\""));
    sql(&mut conn, &format!("SET search_path TO \"{schema}\""));
    sql(&mut conn, "CREATE DOMAIN nn_int AS BIGINT NOT NULL");
    sql(&mut conn, "CREATE TABLE p (id BIGINT PRIMARY KEY)");
    sql(
        &mut conn,
        "CREATE TABLE by_domain (p_id nn_int REFERENCES p)",
    );
    sql(&mut conn, "CREATE TABLE by_generation (x BIGINT, p_id BIGINT GENERATED ALWAYS AS (x + 1) STORED REFERENCES p)");
    sql(&mut conn, "CREATE TABLE plain (p_id BIGINT REFERENCES p)");
    let keys = FkCatalog::new().foreign_keys(&mut conn).unwrap();
    assert_eq!(named(&keys, &schema, "by_domain").nullable, [false]);
    assert_eq!(named(&keys, &schema, "by_generation").nullable, [false]);
    assert_eq!(named(&keys, &schema, "plain").nullable, [true]);
    sql(&mut conn, &format!("DROP SCHEMA \"{schema}\" CASCADE"));
}

/// Another session's temporary tables can be neither read nor written:
/// their foreign keys are not in this session's catalog.
#[cfg(feature = "postgres")]
#[test]
fn postgres_other_sessions_temporary_tables_are_left_out() {
    let parent = common::unique_name("fk_safe_temp_parent");
    let child = common::unique_name("fk_safe_temp_child");
    let mut other = common::pg::connect_base();
    sql(
        &mut other,
        &format!("CREATE TEMP TABLE \"{parent}\" (id BIGINT PRIMARY KEY)"),
    );
    sql(
        &mut other,
        &format!("CREATE TEMP TABLE \"{child}\" (p_id BIGINT REFERENCES \"{parent}\")"),
    );
    let mut conn = common::pg::connect_base();
    let keys = FkCatalog::new().foreign_keys(&mut conn).unwrap();
    assert!(
        !keys.iter().any(|fk| fk.table == child),
        "another session's temporary table is listed: {keys:#?}"
    );
    // The session that owns it sees it.
    let own = FkCatalog::new().foreign_keys(&mut other).unwrap();
    assert!(own
        .iter()
        .any(|fk| fk.table == child && fk.schema.starts_with("pg_temp_")));
}

//! The orphan report (`fk_safe::integrity::orphans`) on real databases:
//! orphans planted with the checks off (PostgreSQL: `session_replication_role
//! = replica`, or a constraint added `NOT VALID`; SQLite: `PRAGMA
//! foreign_keys = OFF`), every one counted, NULLs matched as each constraint
//! declares, hostile names quoted.

mod common;

use fk_safe::integrity::orphans::{orphans, OrphanError, OrphanOptions, OrphanReport};
use fk_safe::{FkCatalog, FkConnection};

/// Runs `statements` or fails the test naming them.
fn run<C: FkConnection>(conn: &mut C, statements: &str) {
    conn.batch_execute(statements)
        .unwrap_or_else(|e| panic!("{statements}: {e}"));
}

/// `name` as a quoted identifier, for the hostile names below.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The report for the tables of this test's schema that `options` selects.
fn report<C: FkConnection>(conn: &mut C, schema: &str, options: OrphanOptions) -> OrphanReport {
    orphans(conn, &FkCatalog::new(), &options.schema(schema)).expect("an orphan report")
}

fn some(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some(v.to_string())).collect()
}

/// 25 orphans with five different missing parents beside rows that have
/// their parent and rows with no parent at all: every orphan is counted,
/// the sample is the first keys in order and never longer than asked.
fn counts_every_orphan_with_a_bounded_sample<C: FkConnection>(
    conn: &mut C,
    unchecked: fn(&mut C, &str),
    schema: fn(&mut C) -> String,
) {
    run(
        conn,
        "CREATE TABLE o_customers (id BIGINT PRIMARY KEY);
         CREATE TABLE o_orders (id BIGINT PRIMARY KEY, customer_id BIGINT REFERENCES o_customers (id));
         INSERT INTO o_customers (id) VALUES (1), (2);",
    );
    let mut rows = Vec::new();
    for id in 0..40 {
        let customer = match id % 8 {
            0..=4 => (100 + id % 5).to_string(),
            5 => "1".to_string(),
            6 => "2".to_string(),
            _ => "NULL".to_string(),
        };
        rows.push(format!("({id}, {customer})"));
    }
    unchecked(
        conn,
        &format!(
            "INSERT INTO o_orders (id, customer_id) VALUES {}",
            rows.join(", ")
        ),
    );
    let schema = schema(conn);

    let found = report(
        conn,
        &schema,
        OrphanOptions::new().table("o_orders").sample_size(3),
    );
    assert_eq!(found.constraints.len(), 1, "{found:#?}");
    let orders = &found.constraints[0];
    assert_eq!(orders.orphans, 25);
    assert_eq!(found.total_orphans(), 25);
    assert_eq!(orders.partial_nulls, 0);
    let sample: Vec<_> = orders.sample.iter().map(|o| o.child_key.clone()).collect();
    assert_eq!(sample, [some(&["100"]), some(&["100"]), some(&["100"])]);
    assert_eq!(
        orders.sample[0].missing_parent_key,
        [("id".to_string(), Some("100".to_string()))]
    );
    assert!(!found.is_clean());
    assert_eq!(
        found.to_string(),
        format!(
            "{}{schema}.o_orders (customer_id) -> {schema}.o_customers (id): 25 orphans; \
             e.g. (100), (100), (100)",
            orders
                .foreign_key
                .name
                .as_ref()
                .map_or(String::new(), |name| format!("{name} "))
        )
    );

    let wide = report(
        conn,
        &schema,
        OrphanOptions::new().table("o_orders").sample_size(100),
    );
    assert_eq!(wide.constraints[0].orphans, 25);
    assert_eq!(wide.constraints[0].sample.len(), 25);
    let distinct: std::collections::BTreeSet<_> = wide.constraints[0]
        .sample
        .iter()
        .map(|o| o.child_key.clone())
        .collect();
    assert_eq!(distinct.len(), 5);

    let unbounded = report(
        conn,
        &schema,
        OrphanOptions::new()
            .table("o_orders")
            .sample_size(usize::MAX),
    );
    assert_eq!(unbounded.constraints[0].sample.len(), 25);

    let none = report(
        conn,
        &schema,
        OrphanOptions::new().table("o_orders").sample_size(0),
    );
    assert_eq!(none.constraints[0].orphans, 25);
    assert!(none.constraints[0].sample.is_empty());
}

/// Under MATCH SIMPLE a composite key with a NULL in any column references
/// nothing; one whose columns are all set and match no parent is an orphan,
/// also when each column alone matches some parent.
fn composite_keys_under_match_simple<C: FkConnection>(
    conn: &mut C,
    unchecked: fn(&mut C, &str),
    schema: fn(&mut C) -> String,
) {
    run(
        conn,
        "CREATE TABLE o_sites (region TEXT, code TEXT, PRIMARY KEY (region, code));
         CREATE TABLE o_visits (id BIGINT PRIMARY KEY, region TEXT, code TEXT,
             FOREIGN KEY (region, code) REFERENCES o_sites (region, code));
         INSERT INTO o_sites VALUES ('eu', 'ber'), ('us', 'nyc');",
    );
    unchecked(
        conn,
        "INSERT INTO o_visits VALUES (1, 'eu', 'ber'), (2, 'eu', 'nyc'), (3, 'eu', NULL),
             (4, NULL, 'zzz'), (5, NULL, NULL), (6, 'ap', 'syd'), (7, 'us', 'nyc')",
    );
    let schema = schema(conn);
    let found = report(conn, &schema, OrphanOptions::new().table("o_visits"));
    let visits = &found.constraints[0];
    assert_eq!(visits.orphans, 2, "{visits:#?}");
    let sample: Vec<_> = visits.sample.iter().map(|o| o.child_key.clone()).collect();
    assert_eq!(sample, [some(&["ap", "syd"]), some(&["eu", "nyc"])]);
    assert_eq!(
        visits.sample[1].missing_parent_key,
        [
            ("region".to_string(), Some("eu".to_string())),
            ("code".to_string(), Some("nyc".to_string()))
        ]
    );
    assert_eq!(visits.partial_nulls, 0);
}

/// Names with quotes, spaces, semicolons, `--` and non-ASCII letters reach
/// SQL quoted: the report finds the orphans, and the table the names try to
/// drop is still there.
fn hostile_identifiers_are_quoted<C: FkConnection>(
    conn: &mut C,
    unchecked: fn(&mut C, &str),
    schema: fn(&mut C) -> String,
) {
    let parent = "Kunden \"Nord\"; DROP TABLE o_victim; --";
    let parent_key = "id; DROP TABLE o_victim; -- ä";
    let child = "x\"; DROP TABLE o_victim; --";
    let child_key = "Kunde \"Nr\" -- ö ;";
    run(
        conn,
        &format!(
            "CREATE TABLE o_victim (id BIGINT PRIMARY KEY);
             INSERT INTO o_victim VALUES (1);
             CREATE TABLE {parent} ({parent_key} TEXT PRIMARY KEY);
             CREATE TABLE {child} (id BIGINT PRIMARY KEY, {child_key} TEXT REFERENCES {parent} ({parent_key}));
             INSERT INTO {parent} VALUES ('a''; --');",
            parent = quoted(parent),
            parent_key = quoted(parent_key),
            child = quoted(child),
            child_key = quoted(child_key),
        ),
    );
    unchecked(
        conn,
        &format!(
            "INSERT INTO {} VALUES (1, 'a''; --'), (2, 'b\"; DROP TABLE o_victim; --'), (3, 'ü')",
            quoted(child)
        ),
    );
    let schema = schema(conn);
    let found = report(conn, &schema, OrphanOptions::new().table(child));
    assert_eq!(found.constraints.len(), 1, "{found:#?}");
    let broken = &found.constraints[0];
    assert_eq!(broken.foreign_key.columns, [child_key]);
    assert_eq!(broken.foreign_key.parent_table, parent);
    assert_eq!(broken.orphans, 2);
    let sample: Vec<_> = broken.sample.iter().map(|o| o.child_key.clone()).collect();
    assert_eq!(
        sample,
        [some(&["b\"; DROP TABLE o_victim; --"]), some(&["ü"])]
    );
    assert_eq!(broken.sample[1].missing_parent_key[0].0, parent_key);
    run(conn, "SELECT id FROM o_victim");
    let victim = report(conn, &schema, OrphanOptions::new().table("o_victim"));
    assert!(victim.constraints.is_empty());
}

/// The demo schema as migrated holds no orphans: every one of its foreign
/// keys is checked and reports zero.
fn a_clean_database_reports_zero<C: FkConnection>(
    conn: &mut C,
    _unchecked: fn(&mut C, &str),
    schema: fn(&mut C) -> String,
) {
    let schema = schema(conn);
    let found = report(conn, &schema, OrphanOptions::new());
    assert!(found.constraints.len() >= 5, "{found:#?}");
    assert!(found.is_clean());
    assert_eq!(found.total_orphans(), 0);
    assert_eq!(found.broken().count(), 0);
    assert_eq!(
        found.to_string(),
        format!("no orphans in {} foreign keys", found.constraints.len())
    );
}

/// Only the tables asked for are checked; the others' orphans stay out of
/// the report.
fn a_subset_checks_only_what_was_chosen<C: FkConnection>(
    conn: &mut C,
    unchecked: fn(&mut C, &str),
    schema: fn(&mut C) -> String,
) {
    run(
        conn,
        "CREATE TABLE o_parents (id BIGINT PRIMARY KEY);
         CREATE TABLE o_first (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES o_parents (id));
         CREATE TABLE o_second (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES o_parents (id));",
    );
    unchecked(
        conn,
        "INSERT INTO o_first VALUES (1, 7); INSERT INTO o_second VALUES (1, 8), (2, 9)",
    );
    let schema = schema(conn);
    let first = report(conn, &schema, OrphanOptions::new().table("o_first"));
    assert_eq!(first.constraints.len(), 1);
    assert_eq!(first.constraints[0].foreign_key.table, "o_first");
    assert_eq!(first.total_orphans(), 1);

    let both = report(
        conn,
        &schema,
        OrphanOptions::new().table("o_first").table("o_second"),
    );
    assert_eq!(both.constraints.len(), 2);
    assert_eq!(both.total_orphans(), 3);

    let all = report(conn, &schema, OrphanOptions::new());
    assert_eq!(all.total_orphans(), 3);
    assert_eq!(all.broken().count(), 2);
}

/// A table dropped after the catalog was read fails the report with an
/// error that names the foreign key and keeps the database's error.
fn a_table_gone_since_the_catalog_was_read<C: FkConnection>(
    conn: &mut C,
    _unchecked: fn(&mut C, &str),
    schema: fn(&mut C) -> String,
) {
    run(
        conn,
        "CREATE TABLE o_parents (id BIGINT PRIMARY KEY);
         CREATE TABLE o_gone (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES o_parents (id));",
    );
    let schema = schema(conn);
    let catalog = FkCatalog::new();
    let options = OrphanOptions::new().schema(&schema).table("o_gone");
    assert!(orphans(conn, &catalog, &options)
        .expect("a report")
        .is_clean());
    run(conn, "DROP TABLE o_gone");
    match orphans(conn, &catalog, &options) {
        Err(error @ OrphanError::Query { .. }) => {
            assert!(
                error
                    .to_string()
                    .contains(&format!("{schema}.o_gone (parent_id)")),
                "{error}"
            );
            let source = std::error::Error::source(&error).expect("the database's error");
            assert!(source.to_string().contains("o_gone"), "{source}");
        }
        other => panic!("expected a query error, got {other:?}"),
    }
}

common::on_both_backends! {
    a_table_gone_since_the_catalog_was_read => {
        postgres: (pg::unchecked, pg::schema),
        sqlite: (sq::unchecked, sq::schema),
    },
    counts_every_orphan_with_a_bounded_sample => {
        postgres: (pg::unchecked, pg::schema),
        sqlite: (sq::unchecked, sq::schema),
    },
    composite_keys_under_match_simple => {
        postgres: (pg::unchecked, pg::schema),
        sqlite: (sq::unchecked, sq::schema),
    },
    hostile_identifiers_are_quoted => {
        postgres: (pg::unchecked, pg::schema),
        sqlite: (sq::unchecked, sq::schema),
    },
    a_clean_database_reports_zero => {
        postgres: (pg::unchecked, pg::schema),
        sqlite: (sq::unchecked, sq::schema),
    },
    a_subset_checks_only_what_was_chosen => {
        postgres: (pg::unchecked, pg::schema),
        sqlite: (sq::unchecked, sq::schema),
    },
}

#[cfg(feature = "postgres")]
mod pg {
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    /// Runs `statements` with the foreign-key triggers off (superuser only).
    pub fn unchecked(conn: &mut PgConnection, statements: &str) {
        super::run(
            conn,
            &format!(
                "SET session_replication_role = replica; {statements}; \
                 SET session_replication_role = origin"
            ),
        );
    }

    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }

    /// The test's own schema, first on its search_path.
    pub fn schema(conn: &mut PgConnection) -> String {
        let rows: Vec<Name> = diesel::sql_query("SELECT current_schema()::text AS name")
            .load(conn)
            .expect("the current schema");
        rows.into_iter().next().expect("a current schema").name
    }
}

#[cfg(feature = "sqlite")]
mod sq {
    use diesel::SqliteConnection;

    /// Runs `statements` with foreign keys off on the connection.
    pub fn unchecked(conn: &mut SqliteConnection, statements: &str) {
        super::run(
            conn,
            &format!("PRAGMA foreign_keys = OFF; {statements}; PRAGMA foreign_keys = ON"),
        );
    }

    /// The only schema fk-safe reads on SQLite.
    pub fn schema(_conn: &mut SqliteConnection) -> String {
        "main".to_string()
    }
}

/// What only PostgreSQL can declare: MATCH FULL, constraints added `NOT
/// VALID` over rows that break them, constraint names, inheritance and
/// partitions.
#[cfg(feature = "postgres")]
mod postgres_facts {
    use super::*;

    /// MATCH FULL refuses a key with some but not all columns NULL: those
    /// rows are reported apart from the orphans, which are counted as under
    /// MATCH SIMPLE. The constraint is added `NOT VALID` after the rows, so
    /// the database never checked them.
    fn match_full_reports_partly_null_keys(conn: &mut diesel::PgConnection) {
        let schema = pg::schema(conn);
        run(
            conn,
            "CREATE TABLE o_sites (region TEXT, code TEXT, PRIMARY KEY (region, code));
             CREATE TABLE o_visits (id BIGINT PRIMARY KEY, region TEXT, code TEXT);
             INSERT INTO o_sites VALUES ('eu', 'ber');
             INSERT INTO o_visits VALUES (1, 'eu', 'ber'), (2, 'eu', 'zzz'), (3, 'eu', NULL),
                 (4, NULL, 'ber'), (5, NULL, NULL);
             ALTER TABLE o_visits ADD CONSTRAINT \"o visits; site\" FOREIGN KEY (region, code)
                 REFERENCES o_sites (region, code) MATCH FULL NOT VALID;",
        );
        let found = report(
            conn,
            &schema,
            OrphanOptions::new().constraint("o visits; site"),
        );
        assert_eq!(found.constraints.len(), 1, "{found:#?}");
        let visits = &found.constraints[0];
        assert_eq!(visits.foreign_key.match_type, fk_safe::MatchType::Full);
        assert!(!visits.foreign_key.validated);
        assert_eq!(visits.orphans, 1);
        assert_eq!(visits.sample[0].child_key, some(&["eu", "zzz"]));
        assert_eq!(visits.partial_nulls, 2);
        assert_eq!(
            visits.partial_null_sample,
            [
                vec![Some("eu".to_string()), None],
                vec![None, Some("ber".to_string())]
            ]
        );
        assert_eq!(
            visits.to_string(),
            format!(
                "o visits; site {schema}.o_visits (region, code) -> {schema}.o_sites (region, code): \
                 1 orphan; e.g. (eu, zzz); 2 partly NULL keys (refused by MATCH FULL); \
                 e.g. (eu, NULL), (NULL, ber)"
            )
        );
    }

    /// A constraint is the table's, not its inheritance children's
    /// (PostgreSQL checks `FROM ONLY`), while a partitioned table's rows are
    /// all in its partitions: rows of a child table that inherits are never
    /// orphans, rows of a partition are.
    fn inheritance_and_partitions(conn: &mut diesel::PgConnection) {
        let schema = pg::schema(conn);
        run(
            conn,
            "CREATE TABLE o_parents (id BIGINT PRIMARY KEY);
             INSERT INTO o_parents VALUES (1);
             CREATE TABLE o_events (id BIGINT, parent_id BIGINT REFERENCES o_parents (id));
             CREATE TABLE o_old_events () INHERITS (o_events);
             INSERT INTO o_old_events VALUES (1, 404);
             CREATE TABLE o_parted (id BIGINT, parent_id BIGINT REFERENCES o_parents (id))
                 PARTITION BY RANGE (id);
             CREATE TABLE o_parted_low PARTITION OF o_parted FOR VALUES FROM (0) TO (100);
             CREATE TABLE o_parted_high PARTITION OF o_parted FOR VALUES FROM (100) TO (200);",
        );
        pg::unchecked(
            conn,
            "INSERT INTO o_events VALUES (1, 1), (2, 5);
             INSERT INTO o_parted VALUES (1, 1), (2, 6), (150, 7), (151, 1)",
        );
        let events = report(conn, &schema, OrphanOptions::new().table("o_events"));
        assert_eq!(events.constraints.len(), 1, "{events:#?}");
        assert_eq!(events.total_orphans(), 1);
        let parted = report(conn, &schema, OrphanOptions::new().table("o_parted"));
        assert_eq!(parted.constraints.len(), 1, "{parted:#?}");
        assert_eq!(parted.total_orphans(), 2);
    }

    /// Drops the schema it names when the test ends, passed or not.
    struct DropSchema(String);

    impl Drop for DropSchema {
        fn drop(&mut self) {
            use diesel::connection::SimpleConnection;
            let mut admin = common::pg::connect_base();
            let _ = admin.batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                quoted(&self.0)
            ));
        }
    }

    /// A schema whose name tries to end the statement is quoted like the
    /// tables: the parent in one such schema, the child in another.
    fn hostile_schemas_are_quoted(conn: &mut diesel::PgConnection) {
        let suffix = common::unique_name("");
        let parents = DropSchema(format!("Stamm \"daten\"; DROP SCHEMA public; --{suffix}"));
        let children = DropSchema(format!("ünter -- ; {suffix}"));
        run(
            conn,
            &format!(
                "CREATE SCHEMA {p}; CREATE SCHEMA {c};
                 CREATE TABLE {p}.o_parents (id BIGINT PRIMARY KEY);
                 INSERT INTO {p}.o_parents VALUES (1);
                 CREATE TABLE {c}.o_children (id BIGINT PRIMARY KEY,
                     parent_id BIGINT REFERENCES {p}.o_parents (id));",
                p = quoted(&parents.0),
                c = quoted(&children.0),
            ),
        );
        pg::unchecked(
            conn,
            &format!(
                "INSERT INTO {}.o_children VALUES (1, 1), (2, 2)",
                quoted(&children.0)
            ),
        );
        let found = report(conn, &children.0, OrphanOptions::new());
        assert_eq!(found.constraints.len(), 1, "{found:#?}");
        assert_eq!(found.constraints[0].foreign_key.parent_schema, parents.0);
        assert_eq!(found.total_orphans(), 1);
        assert_eq!(found.constraints[0].sample[0].child_key, some(&["2"]));
        // Fails when the schema is gone.
        run(conn, "SELECT 'public'::regnamespace");
    }

    common::on_postgres! {
        hostile_schemas_are_quoted,
        match_full_reports_partly_null_keys,
        inheritance_and_partitions,
    }
}

/// What only SQLite accepts: a foreign key whose parent columns are not
/// unique (SQLite refuses writes under it as a "foreign key mismatch", but
/// rows written with the checks off remain).
#[cfg(feature = "sqlite")]
mod sqlite_facts {
    use super::*;

    /// A child that matches several parents is matched, not repeated, and
    /// each orphan is counted once.
    fn a_parent_key_that_is_not_unique(conn: &mut diesel::SqliteConnection) {
        run(
            conn,
            "CREATE TABLE o_groups (code TEXT);
             CREATE TABLE o_members (id INTEGER PRIMARY KEY, code TEXT REFERENCES o_groups (code));",
        );
        sq::unchecked(
            conn,
            "INSERT INTO o_groups VALUES ('a'), ('a'), ('a'), ('b');
             INSERT INTO o_members (code) VALUES ('a'), ('a'), ('b'), ('c'), ('c')",
        );
        let found = report(conn, "main", OrphanOptions::new().table("o_members"));
        assert_eq!(found.total_orphans(), 2, "{found:#?}");
        let sample: Vec<_> = found.constraints[0]
            .sample
            .iter()
            .map(|o| o.child_key.clone())
            .collect();
        assert_eq!(sample, [some(&["c"]), some(&["c"])]);
    }

    common::on_sqlite! {
        a_parent_key_that_is_not_unique,
    }
}

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

/// The report reads the foreign keys anew, whatever the catalog cached: a
/// table dropped since is not checked (asked for by name, it selects
/// nothing, which is an error), and the foreign key read before it was
/// dropped, checked alone, fails with an error naming it.
fn a_table_gone_since_the_catalog_was_read<C: FkConnection>(
    conn: &mut C,
    _unchecked: fn(&mut C, &str),
    schema: fn(&mut C) -> String,
) {
    run(
        conn,
        "CREATE TABLE o_parents (id BIGINT PRIMARY KEY);
         CREATE TABLE o_gone (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES o_parents (id));
         CREATE TABLE o_kept (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES o_parents (id));",
    );
    let schema = schema(conn);
    let catalog = FkCatalog::new();
    let both = OrphanOptions::new()
        .schema(&schema)
        .table("o_gone")
        .table("o_kept");
    let before = orphans(conn, &catalog, &both).expect("a report");
    assert!(before.is_clean(), "{before:#?}");
    let gone = before
        .constraints
        .iter()
        .find(|c| c.foreign_key.table == "o_gone")
        .expect("o_gone checked")
        .foreign_key
        .clone();
    run(conn, "DROP TABLE o_gone");
    match orphans(conn, &catalog, &both) {
        Err(error @ OrphanError::NothingSelected { .. }) => {
            assert!(error.to_string().contains("\"o_gone\""), "{error}")
        }
        other => panic!("expected NothingSelected, got {other:?}"),
    }
    let kept = orphans(
        conn,
        &catalog,
        &OrphanOptions::new().schema(&schema).table("o_kept"),
    )
    .expect("a report");
    assert!(kept.is_clean(), "{kept:#?}");
    match fk_safe::integrity::orphans::constraint_orphans(conn, &gone, 10) {
        Err(error) => assert!(
            error
                .to_string()
                .contains(&format!("{schema}.o_gone (parent_id)")),
            "{error}"
        ),
        Ok(found) => panic!("a foreign key of a dropped table checked: {found:?}"),
    }
}

/// A table, schema or constraint named in the options that selects no
/// foreign key is an error, not a clean report of nothing.
fn a_name_that_selects_nothing_is_refused<C: FkConnection>(
    conn: &mut C,
    _unchecked: fn(&mut C, &str),
    schema: fn(&mut C) -> String,
) {
    run(
        conn,
        "CREATE TABLE o_parents (id BIGINT PRIMARY KEY);
         CREATE TABLE o_children (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES o_parents (id));",
    );
    let schema = schema(conn);
    let catalog = FkCatalog::new();
    for (options, named) in [
        (
            OrphanOptions::new().schema(&schema).table("o_chidlren"),
            "\"o_chidlren\"",
        ),
        // The parent declares no foreign key itself.
        (
            OrphanOptions::new().schema(&schema).table("o_parents"),
            "\"o_parents\"",
        ),
        (
            OrphanOptions::new().schema(format!("{schema}_nowhere")),
            "_nowhere\"",
        ),
        (
            OrphanOptions::new()
                .schema(&schema)
                .constraint("no such constraint"),
            "\"no such constraint\"",
        ),
    ] {
        match orphans(conn, &catalog, &options) {
            Err(error @ OrphanError::NothingSelected { .. }) => {
                assert!(error.to_string().contains(named), "{error}")
            }
            other => panic!("{options:?}: expected NothingSelected, got {other:?}"),
        }
    }
    let found = orphans(
        conn,
        &catalog,
        &OrphanOptions::new().schema(&schema).table("o_children"),
    )
    .expect("a report");
    assert_eq!(found.constraints.len(), 1);
}

common::on_both_backends! {
    a_name_that_selects_nothing_is_refused => {
        postgres: (pg::unchecked, pg::schema),
        sqlite: (sq::unchecked, sq::schema),
    },
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
                "\"o visits; site\" {schema}.o_visits (region, code) -> {schema}.o_sites (region, code): \
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

    use common::pg::{DropSchema, TestRole};

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

    /// A child `text` column referencing a `char(3)` parent compares as the
    /// constraint does (`bpchar = bpchar`, trailing spaces ignored), not as
    /// a plain `=` would (`text = text`): rows PostgreSQL itself accepted
    /// are no orphans; one it would refuse is.
    fn types_compare_with_the_constraints_operator(conn: &mut diesel::PgConnection) {
        let schema = pg::schema(conn);
        run(
            conn,
            "CREATE TABLE o_airports (code CHAR(3) PRIMARY KEY);
             CREATE TABLE o_flights (id BIGINT PRIMARY KEY, code TEXT REFERENCES o_airports (code));
             INSERT INTO o_airports VALUES ('TX'), ('BER');
             INSERT INTO o_flights VALUES (1, 'TX '), (2, 'TX'), (3, 'BER');",
        );
        pg::unchecked(conn, "INSERT INTO o_flights VALUES (4, 'LHR')");
        let found = report(conn, &schema, OrphanOptions::new().table("o_flights"));
        assert_eq!(found.total_orphans(), 1, "{found:#?}");
        assert_eq!(found.constraints[0].sample[0].child_key, some(&["LHR"]));
    }

    /// A parent key under a nondeterministic (case-insensitive) collation
    /// matches children as the constraint does, under the parent's
    /// collation; a plain `=` between the two collations fails outright.
    fn the_parent_collation_decides(conn: &mut diesel::PgConnection) {
        let schema = pg::schema(conn);
        run(
            conn,
            "CREATE COLLATION o_nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
             CREATE TABLE o_users (login TEXT COLLATE o_nocase PRIMARY KEY);
             INSERT INTO o_users VALUES ('Ada');",
        );
        // PostgreSQL 18 refuses a child column whose collation's
        // determinism differs from the parent's; it takes the parent's
        // collation there.
        let declared = diesel::connection::SimpleConnection::batch_execute(
            conn,
            "CREATE TABLE o_sessions (id BIGINT PRIMARY KEY, login TEXT REFERENCES o_users (login))",
        );
        if declared.is_err() {
            run(
                conn,
                "CREATE TABLE o_sessions (id BIGINT PRIMARY KEY,
                     login TEXT COLLATE o_nocase REFERENCES o_users (login))",
            );
        }
        run(conn, "INSERT INTO o_sessions VALUES (1, 'ADA'), (2, 'ada')");
        pg::unchecked(conn, "INSERT INTO o_sessions VALUES (3, 'Bob')");
        let found = report(conn, &schema, OrphanOptions::new().table("o_sessions"));
        assert!(found.unchecked.is_empty(), "{found:#?}");
        assert_eq!(found.total_orphans(), 1, "{found:#?}");
        assert_eq!(found.constraints[0].sample[0].child_key, some(&["Bob"]));

        // A child column of another collation, where a plain `=` cannot
        // tell which to use. PostgreSQL 18 refuses such a foreign key
        // (the two collations' determinism differs), so there is nothing
        // to check there.
        let declared = diesel::connection::SimpleConnection::batch_execute(
            conn,
            "CREATE TABLE o_logins (id BIGINT PRIMARY KEY,
                 login TEXT COLLATE \"C\" REFERENCES o_users (login));
             INSERT INTO o_logins VALUES (1, 'ADA'), (2, 'ada');",
        );
        if let Err(error) = declared {
            println!("SKIPPED on this server: {error}");
            return;
        }
        pg::unchecked(conn, "INSERT INTO o_logins VALUES (3, 'Eve')");
        let found = report(conn, &schema, OrphanOptions::new().table("o_logins"));
        assert!(found.unchecked.is_empty(), "{found:#?}");
        assert_eq!(found.total_orphans(), 1, "{found:#?}");
        assert_eq!(found.constraints[0].sample[0].child_key, some(&["Eve"]));
    }

    /// A table the role may not read is listed unchecked with PostgreSQL's
    /// reason; the others are still checked, and the caller's transaction
    /// goes on (each foreign key is checked in a savepoint).
    fn an_unreadable_table_is_listed_unchecked(conn: &mut diesel::PgConnection) {
        use diesel::Connection;
        let schema = pg::schema(conn);
        let reader = TestRole::new(conn, "o_reader");
        let role = reader.0.clone();
        run(
            conn,
            &format!(
                "CREATE TABLE o_parents (id BIGINT PRIMARY KEY);
                 CREATE TABLE o_secret (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES o_parents (id));
                 CREATE TABLE o_open (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES o_parents (id));
                 GRANT USAGE ON SCHEMA {s} TO {r};
                 GRANT SELECT ON o_parents, o_open TO {r};",
                r = quoted(&role),
                s = quoted(&schema),
            ),
        );
        pg::unchecked(conn, "INSERT INTO o_open VALUES (1, 9)");
        conn.transaction(|conn| {
            run(conn, &format!("SET LOCAL ROLE {}", quoted(&role)));
            let found = report(
                conn,
                &schema,
                OrphanOptions::new().table("o_secret").table("o_open"),
            );
            assert_eq!(found.total_orphans(), 1, "{found:#?}");
            assert_eq!(found.constraints[0].foreign_key.table, "o_open");
            assert_eq!(found.unchecked.len(), 1, "{found:#?}");
            assert_eq!(found.unchecked[0].foreign_key.table, "o_secret");
            assert!(
                found.unchecked[0].reason.contains("permission denied"),
                "{}",
                found.unchecked[0].reason
            );
            // The transaction is still usable.
            run(conn, "SELECT 1");
            diesel::QueryResult::Ok(())
        })
        .expect("the caller's transaction");
    }

    common::on_postgres! {
        types_compare_with_the_constraints_operator,
        the_parent_collation_decides,
        an_unreadable_table_is_listed_unchecked,
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

    /// A parent key without a unique index makes SQLite refuse every write
    /// under the foreign key ("foreign key mismatch"), and its own check
    /// refuses it too: the report lists it unchecked with that reason
    /// instead of counting by a join SQLite does not make.
    fn a_parent_key_that_is_not_unique(conn: &mut diesel::SqliteConnection) {
        run(
            conn,
            "CREATE TABLE o_groups (code TEXT);
             CREATE TABLE o_members (id INTEGER PRIMARY KEY, code TEXT REFERENCES o_groups (code));",
        );
        sq::unchecked(
            conn,
            "INSERT INTO o_groups VALUES ('a'), ('a'), ('b');
             INSERT INTO o_members (code) VALUES ('a'), ('b')",
        );
        let found = report(conn, "main", OrphanOptions::new().table("o_members"));
        assert!(!found.is_clean(), "{found:#?}");
        assert!(found.constraints.is_empty(), "{found:#?}");
        assert_eq!(found.unchecked.len(), 1, "{found:#?}");
        assert!(
            found.unchecked[0].reason.contains("foreign key mismatch"),
            "{}",
            found.unchecked[0].reason
        );
    }

    /// SQLite's own check gives the child's value the parent column's
    /// affinity: an INTEGER child 1 does not find the TEXT parent '01',
    /// though a plain `=` would convert '01' to 1 and match it; a TEXT child
    /// '1' does find an INTEGER parent 1. The report agrees with SQLite.
    fn affinity_is_the_parent_columns(conn: &mut diesel::SqliteConnection) {
        run(
            conn,
            "CREATE TABLE o_codes (code TEXT PRIMARY KEY);
             CREATE TABLE o_uses (id INTEGER PRIMARY KEY, code INTEGER REFERENCES o_codes (code));
             CREATE TABLE o_numbers (n INTEGER PRIMARY KEY);
             CREATE TABLE o_mentions (id INTEGER PRIMARY KEY, n TEXT REFERENCES o_numbers (n));",
        );
        sq::unchecked(
            conn,
            "INSERT INTO o_codes VALUES ('01'), ('2');
             INSERT INTO o_uses (code) VALUES (1), (2);
             INSERT INTO o_numbers VALUES (1);
             INSERT INTO o_mentions (n) VALUES ('1'), ('01'), ('x')",
        );
        let uses = report(conn, "main", OrphanOptions::new().table("o_uses"));
        assert_eq!(uses.total_orphans(), 1, "{uses:#?}");
        assert_eq!(uses.constraints[0].sample[0].child_key, some(&["1"]));
        let mentions = report(conn, "main", OrphanOptions::new().table("o_mentions"));
        // '01' becomes the integer 1 under the parent's INTEGER affinity.
        assert_eq!(mentions.total_orphans(), 1, "{mentions:#?}");
        assert_eq!(mentions.constraints[0].sample[0].child_key, some(&["x"]));
    }

    /// The parent column's collation decides, as in SQLite's own check.
    fn collation_is_the_parent_columns(conn: &mut diesel::SqliteConnection) {
        run(
            conn,
            "CREATE TABLE o_tags (name TEXT COLLATE NOCASE PRIMARY KEY);
             CREATE TABLE o_tagged (id INTEGER PRIMARY KEY, tag TEXT REFERENCES o_tags (name));",
        );
        sq::unchecked(
            conn,
            "INSERT INTO o_tags VALUES ('Rust');
             INSERT INTO o_tagged (tag) VALUES ('RUST'), ('rust'), ('Go')",
        );
        let found = report(conn, "main", OrphanOptions::new().table("o_tagged"));
        assert_eq!(found.total_orphans(), 1, "{found:#?}");
        assert_eq!(found.constraints[0].sample[0].child_key, some(&["Go"]));
    }

    /// A BLOB key is shown in hexadecimal, every byte kept.
    fn blob_keys_are_shown_in_hex(conn: &mut diesel::SqliteConnection) {
        run(
            conn,
            "CREATE TABLE o_files (digest BLOB PRIMARY KEY);
             CREATE TABLE o_copies (id INTEGER PRIMARY KEY, digest BLOB REFERENCES o_files (digest));",
        );
        sq::unchecked(
            conn,
            "INSERT INTO o_files VALUES (X'00FF');
             INSERT INTO o_copies (digest) VALUES (X'00FF'), (X'FF00C3')",
        );
        let found = report(conn, "main", OrphanOptions::new().table("o_copies"));
        assert_eq!(found.total_orphans(), 1, "{found:#?}");
        assert_eq!(
            found.constraints[0].sample[0].child_key,
            some(&["X'FF00C3'"])
        );
    }

    common::on_sqlite! {
        a_parent_key_that_is_not_unique,
        affinity_is_the_parent_columns,
        collation_is_the_parent_columns,
        blob_keys_are_shown_in_hex,
    }
}

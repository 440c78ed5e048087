//! A hostile review of the orphan report (`fk_safe::integrity::orphans`)
//! and of bulk loads (`fk_safe::integrity::bulk_load`): each test tries to
//! make one of them report success over a wrong answer. Those named
//! FINDING failed before their fix (a work that adds a foreign key, renames
//! or detaches a table, turns `track_counts` off or commits by itself; a
//! cached catalog; row-level security; TEMP tables; writes through a view
//! under replica mode; kept orphans under a constraint marked valid; a lost
//! constraint comment); the others are attacks that held.

mod common;

use diesel::connection::SimpleConnection;
use fk_safe::integrity::bulk_load::{load_unchecked, BulkLoad, BulkLoadError, BulkLoadOptions};
use fk_safe::FkConnection;

/// Runs `statements` or fails the test naming them.
fn run<C: FkConnection>(conn: &mut C, statements: &str) {
    conn.batch_execute(statements)
        .unwrap_or_else(|e| panic!("{statements}: {e}"));
}

/// A load that committed must have left no orphan behind, unless it was
/// asked to keep them and says so.
fn assert_no_silent_orphans<T: std::fmt::Debug, E: std::fmt::Debug>(
    outcome: &Result<BulkLoad<T>, BulkLoadError<E>>,
    orphans_now: i64,
) {
    if let Ok(loaded) = outcome {
        assert!(
            orphans_now == 0 || !loaded.report.is_clean(),
            "the load committed {orphans_now} orphan(s) and reported a clean check: {:#?}",
            loaded.report
        );
    }
}

#[cfg(feature = "postgres")]
mod postgres_review {
    use super::*;
    use common::count;
    use diesel::prelude::*;
    use diesel::sql_types::Text;
    use fk_safe::integrity::bulk_load::Mechanism;
    use fk_safe::integrity::orphans::{orphans, OrphanOptions};
    use fk_safe::FkCatalog;

    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
        name: Option<String>,
    }

    /// Loads `statements` unchecked over the foreign keys of `schema`;
    /// when the load commits, `orphans_sql` (`SELECT COUNT(*) AS n ..`)
    /// counts the orphans it left, which its report must not call clean.
    fn load_then_count_orphans(
        conn: &mut PgConnection,
        schema: &str,
        statements: &str,
        orphans_sql: &str,
    ) {
        let outcome = load_unchecked(
            conn,
            &FkCatalog::new(),
            &BulkLoadOptions::new().schema(schema),
            |conn| conn.batch_execute(statements),
        );
        let orphans_now = match &outcome {
            Ok(_) => count(conn, orphans_sql),
            Err(_) => 0,
        };
        assert_no_silent_orphans(&outcome, orphans_now);
    }

    fn schema(conn: &mut PgConnection) -> String {
        text(conn, "SELECT current_schema()::text AS name").expect("a schema")
    }

    fn text(conn: &mut PgConnection, sql: &str) -> Option<String> {
        let rows: Vec<Name> = diesel::sql_query(sql)
            .load(conn)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.into_iter().next().and_then(|row| row.name)
    }

    const PARENT: &str = "CREATE TABLE r_parent (id BIGINT PRIMARY KEY);
         INSERT INTO r_parent VALUES (1);";

    /// FINDING 1: replica mode turns off every foreign key of the database,
    /// but checks only those the catalog listed before the work ran. A
    /// foreign key the work itself creates (a new table, `ADD FOREIGN KEY`
    /// on an empty table) is off for the rest of the work, and its orphans
    /// commit with a clean report.
    fn pg_foreign_key_created_by_the_work_goes_unchecked(conn: &mut PgConnection) {
        let schema = schema(conn);
        run(conn, PARENT);
        let catalog = FkCatalog::new();
        let outcome = load_unchecked(
            conn,
            &catalog,
            &BulkLoadOptions::new().schema(&schema),
            |conn| {
                conn.batch_execute(
                    "CREATE TABLE r_late (id BIGINT, parent_id BIGINT REFERENCES r_parent (id));
                     INSERT INTO r_late VALUES (1, 404);",
                )
            },
        );
        let orphans_now = match &outcome {
            Ok(_) => count(
                conn,
                "SELECT COUNT(*) AS n FROM r_late l \
                 WHERE NOT EXISTS (SELECT 1 FROM r_parent p WHERE p.id = l.parent_id)",
            ),
            Err(_) => 0,
        };
        assert_no_silent_orphans(&outcome, orphans_now);
    }

    /// FINDING 2: `FkCatalog` caches the list of foreign keys; a bulk load
    /// with a catalog read before a foreign key was added turns that key
    /// off too (replica mode) but never checks it.
    fn pg_stale_catalog_lets_orphans_commit(conn: &mut PgConnection) {
        let schema = schema(conn);
        run(
            conn,
            &format!("{PARENT} CREATE TABLE r_child (id BIGINT, parent_id BIGINT);"),
        );
        let catalog = FkCatalog::new();
        catalog.foreign_keys(conn).expect("the catalog, now cached");
        run(
            conn,
            "ALTER TABLE r_child ADD CONSTRAINT r_child_parent_fkey \
             FOREIGN KEY (parent_id) REFERENCES r_parent (id)",
        );
        let outcome = load_unchecked(
            conn,
            &catalog,
            &BulkLoadOptions::new().schema(&schema),
            |conn| conn.batch_execute("INSERT INTO r_child VALUES (1, 404)"),
        );
        let orphans_now = match &outcome {
            Ok(_) => count(
                conn,
                "SELECT COUNT(*) AS n FROM r_child WHERE parent_id = 404",
            ),
            Err(_) => 0,
        };
        assert_no_silent_orphans(&outcome, orphans_now);
    }

    /// FINDING 2b: the orphan report with a catalog cached before a foreign
    /// key was added reports clean over a database that has orphans.
    fn pg_stale_catalog_orphan_report_is_clean(conn: &mut PgConnection) {
        let schema = schema(conn);
        run(
            conn,
            &format!(
                "{PARENT} CREATE TABLE r_child (id BIGINT, parent_id BIGINT);
                 INSERT INTO r_child VALUES (1, 404);"
            ),
        );
        let catalog = FkCatalog::new();
        catalog.foreign_keys(conn).expect("the catalog, now cached");
        run(
            conn,
            "ALTER TABLE r_child ADD CONSTRAINT r_child_parent_fkey \
             FOREIGN KEY (parent_id) REFERENCES r_parent (id) NOT VALID",
        );
        let report = orphans(conn, &catalog, &OrphanOptions::new().schema(&schema));
        if let Ok(report) = report {
            assert!(
                !report.is_clean(),
                "a clean report over a NOT VALID foreign key with an orphan: {report}"
            );
        }
    }

    /// FINDING 3: keep_orphans with the constraints recreated, on a
    /// partitioned child: PostgreSQL 15 cannot add a NOT VALID foreign key
    /// on a partitioned table, so the load that was asked to keep its
    /// orphans fails after the work, in the database, instead of being
    /// refused before any work (CannotKeep) or keeping them.
    fn pg_keep_orphans_recreated_on_a_partitioned_child(conn: &mut PgConnection) {
        let schema = schema(conn);
        run(
            conn,
            &format!(
                "{PARENT}
                 CREATE TABLE r_sales (id BIGINT, parent_id BIGINT REFERENCES r_parent (id))
                     PARTITION BY RANGE (id);
                 CREATE TABLE r_sales_low PARTITION OF r_sales FOR VALUES FROM (0) TO (100);"
            ),
        );
        let catalog = FkCatalog::new();
        let mut ran = false;
        let outcome = load_unchecked(
            conn,
            &catalog,
            &BulkLoadOptions::new()
                .schema(&schema)
                .table("r_sales")
                .mechanism(Mechanism::RecreatedConstraints)
                .keep_orphans(),
            |conn| {
                ran = true;
                conn.batch_execute("INSERT INTO r_sales VALUES (1, 404)")
            },
        );
        match outcome {
            Ok(loaded) => assert_eq!(loaded.report.total_orphans(), 1),
            Err(BulkLoadError::CannotKeep(_)) => assert!(!ran, "refused after the work ran"),
            Err(other) => panic!("keep_orphans neither kept nor refused up front: {other}"),
        }
    }

    /// FINDING 4: recreating the constraints silently drops what belongs to
    /// the old constraint object: its COMMENT.
    fn pg_recreated_constraints_lose_their_comment(conn: &mut PgConnection) {
        let schema = schema(conn);
        run(
            conn,
            &format!(
                "{PARENT}
                 CREATE TABLE r_child (id BIGINT, parent_id BIGINT,
                     CONSTRAINT r_child_parent_fkey FOREIGN KEY (parent_id) REFERENCES r_parent (id));
                 COMMENT ON CONSTRAINT r_child_parent_fkey ON r_child IS 'kept?';"
            ),
        );
        let catalog = FkCatalog::new();
        load_unchecked(
            conn,
            &catalog,
            &BulkLoadOptions::new()
                .schema(&schema)
                .table("r_child")
                .mechanism(Mechanism::RecreatedConstraints),
            |conn| conn.batch_execute("INSERT INTO r_child VALUES (1, 1)"),
        )
        .expect("a clean load");
        let comment = text(
            conn,
            "SELECT obj_description(c.oid, 'pg_constraint') AS name FROM pg_constraint c \
             WHERE c.conname = 'r_child_parent_fkey' AND c.conrelid = 'r_child'::regclass",
        );
        assert_eq!(comment.as_deref(), Some("kept?"));
    }

    /// FINDING 5: replica mode checks the foreign keys of the tables the
    /// work wrote, as the catalog saw them before the work. A work that
    /// loads a partition and then detaches it leaves the detached table
    /// with its own (new) foreign key, which nobody checks.
    fn pg_partition_detached_by_the_work(conn: &mut PgConnection) {
        let schema = schema(conn);
        run(
            conn,
            &format!(
                "{PARENT}
                 CREATE TABLE r_sales (id BIGINT, parent_id BIGINT REFERENCES r_parent (id))
                     PARTITION BY RANGE (id);
                 CREATE TABLE r_sales_low PARTITION OF r_sales FOR VALUES FROM (0) TO (100);"
            ),
        );
        load_then_count_orphans(
            conn,
            &schema,
            "INSERT INTO r_sales VALUES (1, 404);
                     ALTER TABLE r_sales DETACH PARTITION r_sales_low;",
            "SELECT COUNT(*) AS n FROM r_sales_low WHERE parent_id = 404",
        );
    }

    /// Held: a work that deletes parents under replica mode (ON DELETE
    /// CASCADE does not run there) leaves orphans the check catches; an
    /// UPDATE of a parent key too.
    fn pg_cascade_and_key_updates_are_caught(conn: &mut PgConnection) {
        let schema = schema(conn);
        run(
            conn,
            &format!(
                "{PARENT} INSERT INTO r_parent VALUES (2);
                 CREATE TABLE r_child (id BIGINT,
                     parent_id BIGINT REFERENCES r_parent (id) ON DELETE CASCADE ON UPDATE CASCADE);
                 INSERT INTO r_child VALUES (1, 1), (2, 2);"
            ),
        );
        let catalog = FkCatalog::new();
        let options = BulkLoadOptions::new().schema(&schema);
        for work in [
            "DELETE FROM r_parent WHERE id = 1",
            "UPDATE r_parent SET id = 20 WHERE id = 2",
            "TRUNCATE r_parent CASCADE; INSERT INTO r_parent VALUES (1)",
        ] {
            let outcome = load_unchecked(conn, &catalog, &options, |conn| conn.batch_execute(work));
            match outcome {
                Err(BulkLoadError::Orphans { .. }) => {}
                Ok(ref loaded) if work.starts_with("TRUNCATE") => {
                    assert!(loaded.report.is_clean());
                    run(conn, "INSERT INTO r_parent VALUES (2); INSERT INTO r_child VALUES (1, 1), (2, 2)");
                }
                other => panic!("{work}: {other:?}"),
            }
        }
        assert_eq!(count(conn, "SELECT COUNT(*) AS n FROM r_child"), 2);
    }

    /// Held: an ENABLE ALWAYS trigger that writes orphans into another
    /// table while the work runs; a COPY; a nested load inside the work.
    fn pg_trigger_copy_and_nested_loads(conn: &mut PgConnection) {
        let schema = schema(conn);
        run(
            conn,
            &format!(
                "{PARENT}
                 CREATE TABLE r_child (id BIGINT, parent_id BIGINT REFERENCES r_parent (id));
                 CREATE TABLE r_log (id BIGINT, parent_id BIGINT REFERENCES r_parent (id));
                 CREATE TABLE r_src (id BIGINT);
                 CREATE FUNCTION r_log_it() RETURNS trigger LANGUAGE plpgsql AS
                   $$BEGIN INSERT INTO r_log VALUES (NEW.id, 500); RETURN NEW; END$$;
                 CREATE TRIGGER r_src_log AFTER INSERT ON r_src FOR EACH ROW EXECUTE FUNCTION r_log_it();
                 ALTER TABLE r_src ENABLE ALWAYS TRIGGER r_src_log;"
            ),
        );
        let catalog = FkCatalog::new();
        let options = BulkLoadOptions::new().schema(&schema);
        let triggered = load_unchecked(conn, &catalog, &options, |conn| {
            conn.batch_execute("INSERT INTO r_src VALUES (1)")
        });
        assert!(
            matches!(triggered, Err(BulkLoadError::Orphans { .. })),
            "{triggered:?}"
        );
        let copied = load_unchecked(conn, &catalog, &options, |conn| {
            conn.batch_execute("COPY r_child FROM PROGRAM 'printf \"1\\t404\\n\"'")
        });
        assert!(
            matches!(copied, Err(BulkLoadError::Orphans { .. })),
            "{copied:?}"
        );
        let nested = load_unchecked(conn, &catalog, &options, |conn| {
            load_unchecked(conn, &catalog, &options.clone().keep_orphans(), |conn| {
                conn.batch_execute("INSERT INTO r_child VALUES (2, 405)")
            })
            .map_err(|e| e.to_string())
        });
        assert!(
            matches!(nested, Err(BulkLoadError::Orphans { .. })),
            "{nested:?}"
        );
        assert_eq!(count(conn, "SELECT COUNT(*) AS n FROM r_child"), 0);
        assert_eq!(
            text(
                conn,
                "SELECT current_setting('session_replication_role') AS name"
            )
            .as_deref(),
            Some("origin")
        );
    }

    /// Held: a constraint named with a quote and a newline, referencing a
    /// parent in another schema while a table of the same name is first on
    /// the search_path, dropped and added again: it comes back on the right
    /// parent, under its name.
    fn pg_recreated_hostile_names_and_shadowed_parent(conn: &mut PgConnection) {
        let schema = schema(conn);
        let other = common::unique_name("r_other");
        run(
            conn,
            &format!(
                "CREATE SCHEMA {other};
                 CREATE TABLE {other}.r_parent (id BIGINT PRIMARY KEY);
                 INSERT INTO {other}.r_parent VALUES (7);
                 CREATE TABLE r_parent (id BIGINT PRIMARY KEY);
                 INSERT INTO r_parent VALUES (8);
                 CREATE TABLE r_child (id BIGINT, parent_id BIGINT,
                     CONSTRAINT \"we\"\"ird\nname\" FOREIGN KEY (parent_id) REFERENCES {other}.r_parent (id));"
            ),
        );
        let catalog = FkCatalog::new();
        let options = BulkLoadOptions::new()
            .schema(&schema)
            .table("r_child")
            .mechanism(Mechanism::RecreatedConstraints);
        let bad = load_unchecked(conn, &catalog, &options, |conn| {
            conn.batch_execute("INSERT INTO r_child VALUES (1, 8)")
        });
        assert!(matches!(bad, Err(BulkLoadError::Orphans { .. })), "{bad:?}");
        load_unchecked(conn, &catalog, &options, |conn| {
            conn.batch_execute("INSERT INTO r_child VALUES (1, 7)")
        })
        .expect("a clean load");
        let definition = text(
            conn,
            "SELECT pg_get_constraintdef(oid) AS name FROM pg_constraint \
             WHERE conname = E'we\"ird\\nname'",
        )
        .expect("the constraint, under its name");
        assert!(
            definition.contains(&format!("{other}.r_parent")),
            "{definition}"
        );
        run(conn, &format!("DROP SCHEMA {other} CASCADE"));
    }

    /// Held: the orphan report on types where a plain `=` or the text form
    /// would differ: arrays, a domain, numeric parent / integer child,
    /// citext, a nondeterministic collation on the parent, char(3) vs text.
    /// The count of each foreign key is compared with what PostgreSQL's own
    /// VALIDATE CONSTRAINT says (zero or not) and with the expected figure.
    fn pg_orphan_report_on_awkward_types(conn: &mut PgConnection) {
        let schema = schema(conn);
        // PostgreSQL 18 refuses a key between collations of different
        // determinism: the child takes the parent's collation there.
        let child_collation = if common::pg::server_version(conn) >= 180000 {
            " COLLATE r_ci"
        } else {
            ""
        };
        run(
            conn,
            &"CREATE EXTENSION IF NOT EXISTS citext;
             CREATE COLLATION r_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
             CREATE DOMAIN r_code AS text;
             CREATE TABLE r_arr_p (k int[] PRIMARY KEY);
             CREATE TABLE r_arr_c (k int[]);
             CREATE TABLE r_dom_p (k text PRIMARY KEY);
             CREATE TABLE r_dom_c (k r_code);
             CREATE TABLE r_num_p (k numeric PRIMARY KEY);
             CREATE TABLE r_num_c (k int4);
             CREATE TABLE r_cit_p (k citext PRIMARY KEY);
             CREATE TABLE r_cit_c (k citext);
             CREATE TABLE r_ci_p (k text COLLATE r_ci PRIMARY KEY);
             CREATE TABLE r_ci_c (k text{child_collation});
             CREATE TABLE r_chr_p (k text PRIMARY KEY);
             CREATE TABLE r_chr_c (k char(3));
             CREATE TABLE r_uq_p (id int PRIMARY KEY, code text UNIQUE);
             CREATE TABLE r_uq_c (code text);
             INSERT INTO r_arr_p VALUES ('{1,2}'), ('{1,NULL}');
             INSERT INTO r_arr_c VALUES ('{1,2}'), ('{2,1}'), ('{1,NULL}'), ('{}');
             INSERT INTO r_dom_p VALUES ('a');
             INSERT INTO r_dom_c VALUES ('a'), ('b');
             INSERT INTO r_num_p VALUES (1.5), (2);
             INSERT INTO r_num_c VALUES (2), (3);
             INSERT INTO r_cit_p VALUES ('Abc');
             INSERT INTO r_cit_c VALUES ('aBC'), ('x');
             INSERT INTO r_ci_p VALUES ('abc');
             INSERT INTO r_ci_c VALUES ('ABC'), ('zzz');
             INSERT INTO r_chr_p VALUES ('ab'), ('ab ');
             INSERT INTO r_chr_c VALUES ('ab'), ('cd ');
             INSERT INTO r_uq_p VALUES (1, 'one');
             INSERT INTO r_uq_c VALUES ('one'), ('two'), (NULL);
             ALTER TABLE r_arr_c ADD CONSTRAINT r_arr_fk FOREIGN KEY (k) REFERENCES r_arr_p NOT VALID;
             ALTER TABLE r_dom_c ADD CONSTRAINT r_dom_fk FOREIGN KEY (k) REFERENCES r_dom_p NOT VALID;
             ALTER TABLE r_num_c ADD CONSTRAINT r_num_fk FOREIGN KEY (k) REFERENCES r_num_p NOT VALID;
             ALTER TABLE r_cit_c ADD CONSTRAINT r_cit_fk FOREIGN KEY (k) REFERENCES r_cit_p NOT VALID;
             ALTER TABLE r_ci_c ADD CONSTRAINT r_ci_fk FOREIGN KEY (k) REFERENCES r_ci_p NOT VALID;
             ALTER TABLE r_chr_c ADD CONSTRAINT r_chr_fk FOREIGN KEY (k) REFERENCES r_chr_p NOT VALID;
             ALTER TABLE r_uq_c ADD CONSTRAINT r_uq_fk FOREIGN KEY (code) REFERENCES r_uq_p (code) NOT VALID;"
                .replace("{child_collation}", child_collation),
        );
        let report = orphans(
            conn,
            &FkCatalog::new(),
            &OrphanOptions::new().schema(&schema),
        )
        .expect("a report");
        assert!(report.unchecked.is_empty(), "{report}");
        let expected = [
            ("r_arr_c", 2),
            ("r_dom_c", 1),
            ("r_num_c", 1),
            ("r_cit_c", 1),
            ("r_ci_c", 1),
            ("r_chr_c", 1),
            ("r_uq_c", 1),
        ];
        for (table, orphans) in expected {
            let found = report
                .constraints
                .iter()
                .find(|c| c.foreign_key.table == table)
                .unwrap_or_else(|| panic!("{table} not in {report:#?}"));
            // PostgreSQL's own verdict: VALIDATE fails iff there is an orphan.
            let name = found.foreign_key.name.clone().expect("a name");
            let validated = conn
                .transaction(|conn| {
                    conn.batch_execute(&format!("ALTER TABLE {table} VALIDATE CONSTRAINT {name}"))?;
                    Err::<(), _>(diesel::result::Error::RollbackTransaction)
                })
                .err()
                .is_some_and(|e| matches!(e, diesel::result::Error::RollbackTransaction));
            assert_eq!(validated, found.orphans == 0, "{table}: {found}");
            assert_eq!(found.orphans, orphans, "{table}: {found}");
        }
    }

    /// FINDING 7: replica mode picks the foreign keys to check from
    /// `pg_stat_xact_user_tables`, and trusts it when `track_counts` is on
    /// at check time. A work that turns it off for its writes (`SET LOCAL
    /// track_counts = off`, as a superuser may, to load faster) and back on
    /// leaves no counts, and its orphans commit with a clean report.
    fn pg_track_counts_off_inside_the_work(conn: &mut PgConnection) {
        let schema = schema(conn);
        run(
            conn,
            &format!("{PARENT} CREATE TABLE r_child (id BIGINT, parent_id BIGINT REFERENCES r_parent (id));"),
        );
        load_then_count_orphans(
            conn,
            &schema,
            "SET LOCAL track_counts = off;
                     INSERT INTO r_child VALUES (1, 404);
                     SET LOCAL track_counts = on;",
            "SELECT COUNT(*) AS n FROM r_child WHERE parent_id = 404",
        );
    }

    /// FINDING 8: orphans kept in replica mode stay under a constraint
    /// PostgreSQL still marks validated (`convalidated`), so `VALIDATE
    /// CONSTRAINT` is a no-op that "succeeds" and every later reader of the
    /// catalog (fk-safe's own `ForeignKey::validated` included) is told the
    /// rows satisfy it. The recreated path adds the constraint NOT VALID.
    fn pg_kept_orphans_leave_the_constraint_marked_valid(conn: &mut PgConnection) {
        let schema = schema(conn);
        run(
            conn,
            &format!("{PARENT} CREATE TABLE r_child (id BIGINT, parent_id BIGINT REFERENCES r_parent (id));"),
        );
        let catalog = FkCatalog::new();
        let loaded = load_unchecked(
            conn,
            &catalog,
            &BulkLoadOptions::new().schema(&schema).keep_orphans(),
            |conn| conn.batch_execute("INSERT INTO r_child VALUES (1, 404)"),
        )
        .expect("the orphans kept");
        // Kept orphans take the constraint recreated NOT VALID.
        assert_eq!(loaded.mechanism, Mechanism::RecreatedConstraints);
        assert_eq!(loaded.report.total_orphans(), 1);
        let validated = text(
            conn,
            "SELECT convalidated::text AS name FROM pg_constraint \
             WHERE conrelid = 'r_child'::regclass AND contype = 'f'",
        );
        assert_eq!(
            validated.as_deref(),
            Some("false"),
            "a constraint marked valid over an orphan"
        );
    }

    /// FINDING 9 (documented effect, silent loss): in replica mode an
    /// INSTEAD OF trigger does not fire, so an INSERT into a view it serves
    /// reports a row inserted and writes nothing; the load commits as a
    /// success. Nothing refuses replica mode when such a trigger (or a
    /// rule) exists.
    fn pg_writes_through_a_view_are_lost(conn: &mut PgConnection) {
        let schema = schema(conn);
        run(
            conn,
            &format!(
                "{PARENT}
                 CREATE TABLE r_child (id BIGINT, parent_id BIGINT REFERENCES r_parent (id));
                 CREATE VIEW r_child_v AS SELECT id, parent_id FROM r_child;
                 CREATE FUNCTION r_child_v_ins() RETURNS trigger LANGUAGE plpgsql AS
                   $$BEGIN INSERT INTO r_child VALUES (NEW.id, NEW.parent_id); RETURN NEW; END$$;
                 CREATE TRIGGER r_child_v_ins INSTEAD OF INSERT ON r_child_v
                     FOR EACH ROW EXECUTE FUNCTION r_child_v_ins();"
            ),
        );
        let catalog = FkCatalog::new();
        let loaded = load_unchecked(
            conn,
            &catalog,
            &BulkLoadOptions::new().schema(&schema),
            |conn| diesel::sql_query("INSERT INTO r_child_v VALUES (1, 1)").execute(conn),
        );
        if let Ok(loaded) = loaded {
            assert_eq!(loaded.value, 1, "the database said one row went in");
            assert_eq!(
                count(conn, "SELECT COUNT(*) AS n FROM r_child"),
                1,
                "the row the work inserted is not there"
            );
        }
    }

    /// Held: MATCH FULL with two columns under replica mode: a partly NULL
    /// key is refused like an orphan.
    fn pg_match_full_partly_null_in_a_load(conn: &mut PgConnection) {
        let schema = schema(conn);
        run(
            conn,
            "CREATE TABLE r_site (region TEXT, code TEXT, PRIMARY KEY (region, code));
             INSERT INTO r_site VALUES ('eu', 'ber');
             CREATE TABLE r_visit (region TEXT, code TEXT,
                 FOREIGN KEY (region, code) REFERENCES r_site MATCH FULL);",
        );
        let catalog = FkCatalog::new();
        for mechanism in [Mechanism::ReplicationRole, Mechanism::RecreatedConstraints] {
            let outcome = load_unchecked(
                conn,
                &catalog,
                &BulkLoadOptions::new()
                    .schema(&schema)
                    .table("r_visit")
                    .mechanism(mechanism),
                |conn| {
                    conn.batch_execute(
                        "INSERT INTO r_visit VALUES ('eu', NULL), (NULL, NULL), ('eu', 'ber')",
                    )
                },
            );
            match outcome {
                Err(BulkLoadError::Orphans { report, .. }) => {
                    let visit = report.broken().next().expect("the visit key");
                    assert_eq!((visit.orphans, visit.partial_nulls), (0, 1), "{report}");
                }
                other => panic!("{mechanism}: {other:?}"),
            }
        }
        assert_eq!(count(conn, "SELECT COUNT(*) AS n FROM r_visit"), 0);
    }

    use common::pg::{quoted, TestRole};

    /// FINDING 10: the orphan report reads the rows as the calling role, so
    /// row-level security filters them; PostgreSQL's own check does not.
    /// A role that may read both tables, under a policy hiding the child's
    /// rows, gets a clean report over an orphan.
    fn pg_row_level_security_hides_orphans(conn: &mut PgConnection) {
        let schema = schema(conn);
        run(
            conn,
            &format!(
                "{PARENT}
                 CREATE TABLE r_child (id BIGINT, parent_id BIGINT REFERENCES r_parent (id));
                 SET session_replication_role = replica;
                 INSERT INTO r_child VALUES (1, 1), (2, 404);
                 RESET session_replication_role;
                 ALTER TABLE r_child ENABLE ROW LEVEL SECURITY;
                 CREATE POLICY r_child_mine ON r_child USING (parent_id < 100);"
            ),
        );
        let role = TestRole(common::unique_name("r_reader"));
        run(
            conn,
            &format!(
                "CREATE ROLE {r}; GRANT USAGE ON SCHEMA {s} TO {r};
                 GRANT SELECT ON r_parent, r_child TO {r}; SET ROLE {r};",
                r = quoted(&role.0),
                s = quoted(&schema)
            ),
        );
        let report = orphans(
            conn,
            &FkCatalog::new(),
            &OrphanOptions::new().schema(&schema).table("r_child"),
        );
        run(conn, "RESET ROLE");
        if let Ok(report) = report {
            assert!(
                !report.is_clean(),
                "a clean report over an orphan row-level security hid: {report}"
            );
        }
    }

    /// FINDING 11: a work that ends the transaction (`COMMIT; BEGIN`, as a
    /// migration script may) commits its rows before any check, with
    /// replica mode on. The check then finds the orphan and the load
    /// answers `Orphans` ("it was rolled back"), but the orphan is already
    /// committed: the error's promise is false and nothing notices that the
    /// transaction the load began is gone.
    fn pg_a_work_that_commits(conn: &mut PgConnection) {
        let schema = schema(conn);
        run(
            conn,
            &format!("{PARENT} CREATE TABLE r_child (id BIGINT, parent_id BIGINT REFERENCES r_parent (id));"),
        );
        let catalog = FkCatalog::new();
        let outcome = load_unchecked(
            conn,
            &catalog,
            &BulkLoadOptions::new().schema(&schema),
            |conn| conn.batch_execute("INSERT INTO r_child VALUES (1, 404); COMMIT; BEGIN"),
        );
        let orphans_now = count(
            conn,
            "SELECT COUNT(*) AS n FROM r_child WHERE parent_id = 404",
        );
        match &outcome {
            Ok(_) => assert_no_silent_orphans(&outcome, orphans_now),
            // Said as it is: the rows may be committed.
            Err(BulkLoadError::TransactionEnded) => {}
            Err(error) => assert_eq!(orphans_now, 0, "{error} but the orphan was committed"),
        }
    }

    /// FINDING 13: replica mode matches the tables the work wrote to the
    /// catalog's foreign keys by name, names read before the work. A work
    /// that loads a staging table and renames it into place (a common
    /// swap) leaves its orphans unchecked.
    fn pg_table_renamed_by_the_work(conn: &mut PgConnection) {
        let schema = schema(conn);
        run(
            conn,
            &format!("{PARENT} CREATE TABLE r_child (id BIGINT, parent_id BIGINT REFERENCES r_parent (id));"),
        );
        load_then_count_orphans(
            conn,
            &schema,
            "INSERT INTO r_child VALUES (1, 404);
                     ALTER TABLE r_child RENAME TO r_child_loaded;",
            "SELECT COUNT(*) AS n FROM r_child_loaded WHERE parent_id = 404",
        );
    }

    common::on_postgres! {
        pg_table_renamed_by_the_work,
        pg_row_level_security_hides_orphans,
        pg_a_work_that_commits,
        pg_track_counts_off_inside_the_work,
        pg_kept_orphans_leave_the_constraint_marked_valid,
        pg_writes_through_a_view_are_lost,
        pg_match_full_partly_null_in_a_load,
        pg_foreign_key_created_by_the_work_goes_unchecked,
        pg_stale_catalog_lets_orphans_commit,
        pg_stale_catalog_orphan_report_is_clean,
        pg_keep_orphans_recreated_on_a_partitioned_child,
        pg_recreated_constraints_lose_their_comment,
        pg_partition_detached_by_the_work,
        pg_cascade_and_key_updates_are_caught,
        pg_trigger_copy_and_nested_loads,
        pg_recreated_hostile_names_and_shadowed_parent,
        pg_orphan_report_on_awkward_types,
    }
}

#[cfg(feature = "sqlite")]
mod sqlite_review {
    use super::*;
    use common::count;
    use diesel::prelude::*;
    use fk_safe::integrity::bulk_load::Mechanism;
    use fk_safe::integrity::orphans::{orphans, OrphanOptions};
    use fk_safe::FkCatalog;

    /// FINDING 6: with `PRAGMA foreign_keys = OFF` every foreign key is
    /// said to be checked afterwards, but the catalog reads `main` only: the
    /// foreign keys of TEMP tables (and of ATTACHed databases) are never
    /// checked, and their orphans commit with a clean report.
    fn sqlite_temp_tables_go_unchecked(conn: &mut SqliteConnection) {
        run(
            conn,
            "PRAGMA foreign_keys = OFF;
             CREATE TEMP TABLE r_parent (id INTEGER PRIMARY KEY);
             CREATE TEMP TABLE r_child (id INTEGER, parent_id INTEGER REFERENCES r_parent (id));",
        );
        let catalog = FkCatalog::new();
        let outcome = load_unchecked(conn, &catalog, &BulkLoadOptions::new(), |conn| {
            conn.batch_execute("INSERT INTO r_child VALUES (1, 404)")
        });
        let orphans_now = match &outcome {
            Ok(loaded) => {
                assert_eq!(loaded.mechanism, Mechanism::ForeignKeysOff);
                count(
                    conn,
                    "SELECT COUNT(*) AS n FROM pragma_foreign_key_check('r_child', 'temp')",
                )
            }
            Err(_) => 0,
        };
        assert_no_silent_orphans(&outcome, orphans_now);
    }

    /// FINDING 1 on SQLite: with foreign keys off, a table the work creates
    /// with a foreign key is never checked.
    fn sqlite_foreign_key_created_by_the_work_goes_unchecked(conn: &mut SqliteConnection) {
        run(
            conn,
            "PRAGMA foreign_keys = OFF; CREATE TABLE r_parent (id INTEGER PRIMARY KEY);",
        );
        let catalog = FkCatalog::new();
        let outcome = load_unchecked(conn, &catalog, &BulkLoadOptions::new(), |conn| {
            conn.batch_execute(
                "CREATE TABLE r_late (id INTEGER, parent_id INTEGER REFERENCES r_parent (id));
                 INSERT INTO r_late VALUES (1, 404);",
            )
        });
        let orphans_now = match &outcome {
            Ok(_) => count(
                conn,
                "SELECT COUNT(*) AS n FROM pragma_foreign_key_check('r_late')",
            ),
            Err(_) => 0,
        };
        assert_no_silent_orphans(&outcome, orphans_now);
    }

    /// Held: a load nested inside the caller's transaction rolls back to its
    /// savepoint on orphans, and `defer_foreign_keys` is off again after it
    /// (on again when it was on before); the caller's own rows stay.
    fn sqlite_nested_load_restores_deferral(conn: &mut SqliteConnection) {
        run(
            conn,
            "CREATE TABLE r_parent (id INTEGER PRIMARY KEY);
             CREATE TABLE r_child (id INTEGER, parent_id INTEGER REFERENCES r_parent (id));",
        );
        let catalog = FkCatalog::new();
        let flag = |conn: &mut SqliteConnection| {
            count(
                conn,
                "SELECT defer_foreign_keys AS n FROM pragma_defer_foreign_keys",
            )
        };
        conn.transaction(|conn| {
            run(conn, "INSERT INTO r_parent VALUES (1)");
            let failed = load_unchecked(conn, &catalog, &BulkLoadOptions::new(), |conn| {
                conn.batch_execute("INSERT INTO r_child VALUES (1, 404)")
            });
            assert!(
                matches!(failed, Err(BulkLoadError::Orphans { .. })),
                "{failed:?}"
            );
            assert_eq!(flag(conn), 0);
            // Immediate checks again inside the caller's transaction.
            assert!(conn
                .batch_execute("INSERT INTO r_child VALUES (2, 405)")
                .is_err());
            run(conn, "PRAGMA defer_foreign_keys = ON");
            load_unchecked(conn, &catalog, &BulkLoadOptions::new(), |conn| {
                conn.batch_execute("INSERT INTO r_child VALUES (3, 1)")
            })
            .expect("a clean load");
            assert_eq!(flag(conn), 1);
            diesel::QueryResult::Ok(())
        })
        .expect("the caller's transaction");
        assert_eq!(count(conn, "SELECT COUNT(*) AS n FROM r_child"), 1);
        assert_eq!(count(conn, "SELECT COUNT(*) AS n FROM r_parent"), 1);
    }

    /// Held: the orphan report on a WITHOUT ROWID child, a table with a
    /// real column named rowid, an INTEGER PRIMARY KEY parent met by text
    /// values ('1.0', ' 1', '1e0', 'abc'), and a NOCASE parent; each count
    /// agrees with SQLite's own foreign_key_check.
    fn sqlite_orphan_report_on_awkward_rows(conn: &mut SqliteConnection) {
        run(
            conn,
            "PRAGMA foreign_keys = OFF;
             CREATE TABLE r_ipk (id INTEGER PRIMARY KEY);
             INSERT INTO r_ipk VALUES (1);
             CREATE TABLE r_wr (k TEXT PRIMARY KEY, parent_id REFERENCES r_ipk (id)) WITHOUT ROWID;
             INSERT INTO r_wr VALUES ('a', '1.0'), ('b', ' 1'), ('c', '1e0'), ('d', 'abc'), ('e', 1.0), ('f', x'01');
             CREATE TABLE r_rowid_p (rowid TEXT PRIMARY KEY);
             INSERT INTO r_rowid_p VALUES ('x');
             CREATE TABLE r_rowid_c (rowid TEXT REFERENCES r_rowid_p (rowid));
             INSERT INTO r_rowid_c VALUES ('x'), ('y');
             CREATE TABLE r_nc_p (k TEXT COLLATE NOCASE PRIMARY KEY);
             INSERT INTO r_nc_p VALUES ('Abc');
             CREATE TABLE r_nc_c (k TEXT REFERENCES r_nc_p (k));
             INSERT INTO r_nc_c VALUES ('aBC'), ('abd');",
        );
        let report = orphans(conn, &FkCatalog::new(), &OrphanOptions::new()).expect("a report");
        assert!(report.unchecked.is_empty(), "{report}");
        for table in ["r_wr", "r_rowid_c", "r_nc_c"] {
            let found = report
                .constraints
                .iter()
                .find(|c| c.foreign_key.table == table)
                .unwrap_or_else(|| panic!("{table} not in {report:#?}"));
            let own = count(
                conn,
                &format!("SELECT COUNT(*) AS n FROM pragma_foreign_key_check('{table}')"),
            );
            assert_eq!(
                found.orphans,
                u64::try_from(own).unwrap(),
                "{table}: {found}"
            );
        }
    }

    /// FINDING 12: a TEMP table with the name of a `main` table hides the
    /// main table's foreign keys: the catalog reads
    /// `pragma_foreign_key_list(?)` without a schema, which SQLite resolves
    /// to the temp table first. The orphan report then checks the temp
    /// table's keys (here none) against `main`, and is clean over an orphan.
    fn sqlite_temp_table_shadows_main_foreign_keys(conn: &mut SqliteConnection) {
        run(
            conn,
            "PRAGMA foreign_keys = OFF;
             CREATE TABLE r_parent (id INTEGER PRIMARY KEY);
             CREATE TABLE r_child (id INTEGER, parent_id INTEGER REFERENCES r_parent (id));
             INSERT INTO r_child VALUES (1, 404);
             CREATE TEMP TABLE r_child (id INTEGER);",
        );
        let own = count(
            conn,
            "SELECT COUNT(*) AS n FROM pragma_foreign_key_check('r_child', 'main')",
        );
        assert_eq!(own, 1, "SQLite's own check sees the orphan");
        // Every foreign key: with a table filter the report fails instead
        // (NothingSelected: "no foreign key is declared on table r_child").
        let report = orphans(conn, &FkCatalog::new(), &OrphanOptions::new()).expect("a report");
        assert!(!report.is_clean(), "clean over an orphan: {report}");
    }

    /// Held: a load inside a load's work (DeferredChecks twice), the inner
    /// one failing with an orphan that the work swallows, the outer one
    /// clean: only the outer rows stay, and `defer_foreign_keys` is off
    /// after both.
    fn sqlite_load_inside_a_load(conn: &mut SqliteConnection) {
        run(
            conn,
            "CREATE TABLE r_parent (id INTEGER PRIMARY KEY);
             CREATE TABLE r_child (id INTEGER, parent_id INTEGER REFERENCES r_parent (id));",
        );
        let catalog = FkCatalog::new();
        let loaded = load_unchecked(conn, &catalog, &BulkLoadOptions::new(), |conn| {
            conn.batch_execute("INSERT INTO r_child VALUES (1, 1)")?;
            let inner = load_unchecked(conn, &catalog, &BulkLoadOptions::new(), |conn| {
                conn.batch_execute("INSERT INTO r_child VALUES (2, 404)")
            });
            assert!(
                matches!(inner, Err(BulkLoadError::Orphans { .. })),
                "{inner:?}"
            );
            conn.batch_execute("INSERT INTO r_parent VALUES (1)")
        })
        .expect("a clean outer load");
        assert!(loaded.report.is_clean());
        assert_eq!(count(conn, "SELECT COUNT(*) AS n FROM r_child"), 1);
        assert_eq!(
            count(
                conn,
                "SELECT defer_foreign_keys AS n FROM pragma_defer_foreign_keys"
            ),
            0
        );
    }

    common::on_sqlite! {
        sqlite_load_inside_a_load,
        sqlite_temp_table_shadows_main_foreign_keys,
        sqlite_temp_tables_go_unchecked,
        sqlite_foreign_key_created_by_the_work_goes_unchecked,
        sqlite_nested_load_restores_deferral,
        sqlite_orphan_report_on_awkward_rows,
    }
}

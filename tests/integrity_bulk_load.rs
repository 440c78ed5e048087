//! Bulk loads with the checks off (`fk_safe::integrity::bulk_load`) on real
//! databases: every mechanism, orphans rolled back or kept, a failing and a
//! panicking load, a role without privileges, and the checks back on after
//! each.

mod common;

use diesel::connection::SimpleConnection;
use fk_safe::integrity::bulk_load::{
    load_unchecked, BulkLoad, BulkLoadError, BulkLoadOptions, Mechanism,
};
use fk_safe::{FkCatalog, FkConnection};

/// Runs `statements` or fails the test naming them.
fn run<C: FkConnection>(conn: &mut C, statements: &str) {
    conn.batch_execute(statements)
        .unwrap_or_else(|e| panic!("{statements}: {e}"));
}

use common::count_rows as count;
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::LoadQuery;

const AUTHORS_AND_BOOKS: &str = "CREATE TABLE b_authors (id BIGINT PRIMARY KEY);
     CREATE TABLE b_books (id BIGINT PRIMARY KEY, author_id BIGINT NOT NULL REFERENCES b_authors (id));";

/// The options of a test: its own schema's tables only.
fn options(schema: &str) -> BulkLoadOptions {
    BulkLoadOptions::new().schema(schema).table("b_books")
}

/// Children before their parents load and commit; a child whose parent
/// never comes rolls the whole load back, and the error names it.
fn children_first_then_an_orphan<C: FkConnection>(
    conn: &mut C,
    schema: fn(&mut C) -> String,
    expected: Mechanism,
) where
    for<'a> SqlQuery: LoadQuery<'a, C, common::Count>,
{
    run(conn, AUTHORS_AND_BOOKS);
    let schema = schema(conn);
    let catalog = FkCatalog::new();
    let loaded: BulkLoad<()> = load_unchecked(conn, &catalog, &options(&schema), |conn| {
        conn.batch_execute(
            "INSERT INTO b_books VALUES (1, 10), (2, 20); INSERT INTO b_authors VALUES (10), (20)",
        )
    })
    .expect("a clean load");
    assert_eq!(loaded.mechanism, expected);
    assert!(loaded.report.is_clean(), "{:#?}", loaded.report);
    assert!(!loaded.effects.is_empty());
    assert_eq!(count(conn, "b_books"), 2);

    let failed = load_unchecked(conn, &catalog, &options(&schema), |conn| {
        conn.batch_execute(
            "INSERT INTO b_authors VALUES (30); INSERT INTO b_books VALUES (3, 30), (4, 404), (5, 405)",
        )
    });
    match failed {
        Err(BulkLoadError::Orphans { report, mechanism }) => {
            assert_eq!(mechanism, expected);
            assert_eq!(report.total_orphans(), 2, "{report:#?}");
            let text = report.to_string();
            assert!(
                text.contains(&format!(
                    "{schema}.b_books (author_id) -> {schema}.b_authors (id): 2 orphans; e.g. (404), (405)"
                )),
                "{text}"
            );
        }
        other => panic!("expected orphans, got {other:?}"),
    }
    // Nothing of the failed load remains, and the checks are on again.
    assert_eq!(count(conn, "b_authors"), 2);
    assert_eq!(count(conn, "b_books"), 2);
    assert!(conn
        .batch_execute("INSERT INTO b_books VALUES (9, 999)")
        .is_err());
}

/// A failing work and a panicking one are rolled back, the checks are on
/// again afterwards, and the connection is usable.
fn failing_and_panicking_work<C: FkConnection>(conn: &mut C, schema: fn(&mut C) -> String)
where
    for<'a> SqlQuery: LoadQuery<'a, C, common::Count>,
{
    run(conn, AUTHORS_AND_BOOKS);
    let schema = schema(conn);
    let catalog = FkCatalog::new();
    let failed = load_unchecked(conn, &catalog, &options(&schema), |conn| {
        conn.batch_execute("INSERT INTO b_books VALUES (1, 404)")?;
        conn.batch_execute("INSERT INTO no_such_table VALUES (1)")
    });
    assert!(matches!(failed, Err(BulkLoadError::Work(_))), "{failed:?}");

    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let outcome = load_unchecked(conn, &catalog, &options(&schema), |conn| {
            conn.batch_execute("INSERT INTO b_books VALUES (2, 404)")
                .expect("an unchecked insert");
            panic!("the work panics");
            #[allow(unreachable_code)]
            diesel::QueryResult::Ok(())
        });
        format!("{outcome:?}")
    }));
    assert!(
        panicked.is_err(),
        "the load returned instead of panicking: {panicked:?}"
    );
    assert_eq!(count(conn, "b_books"), 0);
    assert!(conn
        .batch_execute("INSERT INTO b_books VALUES (3, 404)")
        .is_err());
    // Fine once the parent exists.
    run(
        conn,
        "INSERT INTO b_authors VALUES (1); INSERT INTO b_books VALUES (3, 1)",
    );
}

/// Inside a caller's transaction the load is a savepoint: a rolled-back
/// load leaves the caller's own rows, and the checks are on for the rest
/// of the caller's transaction.
fn inside_a_transaction<C: FkConnection>(conn: &mut C, schema: fn(&mut C) -> String)
where
    for<'a> SqlQuery: LoadQuery<'a, C, common::Count>,
{
    run(conn, AUTHORS_AND_BOOKS);
    let schema = schema(conn);
    let catalog = FkCatalog::new();
    conn.transaction(|conn| {
        conn.batch_execute("INSERT INTO b_authors VALUES (1)")?;
        let failed = load_unchecked(conn, &catalog, &options(&schema), |conn| {
            conn.batch_execute("INSERT INTO b_books VALUES (1, 404)")
        });
        assert!(
            matches!(failed, Err(BulkLoadError::Orphans { .. })),
            "{failed:?}"
        );
        load_unchecked(conn, &catalog, &options(&schema), |conn| {
            conn.batch_execute(
                "INSERT INTO b_books VALUES (2, 5); INSERT INTO b_authors VALUES (5)",
            )
        })
        .expect("a clean nested load");
        // Checked again, at once, within the caller's transaction.
        let savepoint =
            conn.transaction(|conn| conn.batch_execute("INSERT INTO b_books VALUES (3, 777)"));
        assert!(savepoint.is_err());
        diesel::QueryResult::Ok(())
    })
    .expect("the caller's transaction");
    assert_eq!(count(conn, "b_authors"), 2);
    assert_eq!(count(conn, "b_books"), 1);
}

common::on_both_backends! {
    children_first_then_an_orphan => {
        postgres: (pg::schema, Mechanism::ReplicationRole),
        sqlite: (sq::schema, Mechanism::DeferredChecks),
    },
    failing_and_panicking_work => {
        postgres: (pg::schema),
        sqlite: (sq::schema),
    },
    inside_a_transaction => {
        postgres: (pg::schema),
        sqlite: (sq::schema),
    },
}

#[cfg(feature = "postgres")]
mod pg {
    use diesel::prelude::*;
    use diesel::sql_types::Text;

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

    /// One text value.
    pub fn text(conn: &mut PgConnection, sql: &str) -> String {
        let rows: Vec<Name> = diesel::sql_query(sql)
            .load(conn)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.into_iter().next().expect("a row").name
    }
}

#[cfg(feature = "sqlite")]
mod sq {
    use diesel::SqliteConnection;

    pub fn schema(_conn: &mut SqliteConnection) -> String {
        "main".to_string()
    }
}

#[cfg(feature = "postgres")]
mod postgres_roles {
    use super::*;
    use diesel::PgConnection;

    use common::pg::{quoted, TestRole};

    /// A role made for the test, allowed to use and create in `schema`.
    fn role_in(conn: &mut PgConnection, schema: &str, prefix: &str) -> TestRole {
        let role = TestRole::new(conn, prefix);
        run(
            conn,
            &format!(
                "GRANT USAGE, CREATE ON SCHEMA {} TO {}",
                quoted(schema),
                quoted(&role.0)
            ),
        );
        role
    }

    /// A table owner who is not a superuser cannot use replica mode: the
    /// constraint is dropped and added again, as declared, and the result
    /// says so; orphans roll the load back with the constraint restored,
    /// and with `keep_orphans` they stay under a constraint added `NOT
    /// VALID`. While the work runs, both tables are locked ACCESS
    /// EXCLUSIVE, as the result says.
    fn a_table_owner_recreates_the_constraints(conn: &mut PgConnection) {
        let schema = pg::schema(conn);
        let owner = role_in(conn, &schema, "b_owner");
        run(conn, &format!("SET ROLE {}", quoted(&owner.0)));
        run(
            conn,
            "CREATE TABLE b_authors (id BIGINT PRIMARY KEY);
             CREATE TABLE b_books (id BIGINT PRIMARY KEY, author_id BIGINT NOT NULL,
                 CONSTRAINT \"books; by author\" FOREIGN KEY (author_id) REFERENCES b_authors (id)
                 ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);",
        );
        let definition = |conn: &mut PgConnection| {
            pg::text(
                conn,
                "SELECT pg_get_constraintdef(oid) || ' valid=' || convalidated AS name \
                 FROM pg_constraint WHERE conname = 'books; by author'",
            )
        };
        let declared = definition(conn);
        let catalog = FkCatalog::new();
        let loaded = load_unchecked(conn, &catalog, &options(&schema), |conn| {
            let locks = pg::text(
                conn,
                "SELECT string_agg(c.relname || ':' || l.mode, ',' ORDER BY c.relname) AS name \
                 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
                 WHERE l.pid = pg_backend_pid() AND l.mode = 'AccessExclusiveLock' \
                   AND c.relname IN ('b_authors', 'b_books')",
            );
            conn.batch_execute(
                "INSERT INTO b_books VALUES (1, 10); INSERT INTO b_authors VALUES (10)",
            )?;
            diesel::QueryResult::Ok(locks)
        })
        .expect("a clean load");
        assert_eq!(loaded.mechanism, Mechanism::RecreatedConstraints);
        assert_eq!(
            loaded.value,
            "b_authors:AccessExclusiveLock,b_books:AccessExclusiveLock"
        );
        assert!(
            loaded.effects[0].contains("ACCESS EXCLUSIVE"),
            "{:?}",
            loaded.effects
        );
        assert_eq!(definition(conn), declared);

        let failed = load_unchecked(conn, &catalog, &options(&schema), |conn| {
            conn.batch_execute("INSERT INTO b_books VALUES (2, 404)")
        });
        assert!(
            matches!(failed, Err(BulkLoadError::Orphans { .. })),
            "{failed:?}"
        );
        assert_eq!(definition(conn), declared);
        assert_eq!(count(conn, "b_books"), 1);

        let kept = load_unchecked(conn, &catalog, &options(&schema).keep_orphans(), |conn| {
            conn.batch_execute("INSERT INTO b_books VALUES (3, 404)")
        })
        .expect("orphans kept");
        assert_eq!(kept.report.total_orphans(), 1);
        assert_eq!(count(conn, "b_books"), 2);
        assert!(
            definition(conn).ends_with("NOT VALID valid=false"),
            "{}",
            definition(conn)
        );
        // Still enforced for new rows.
        assert!(conn
            .batch_execute("INSERT INTO b_books VALUES (4, 405); SET CONSTRAINTS ALL IMMEDIATE")
            .is_err());
        run(conn, "RESET ROLE");
    }

    /// A role that may write the tables but neither owns them nor may set
    /// replica mode is refused before its work runs, with what is missing.
    fn a_role_without_rights_is_refused(conn: &mut PgConnection) {
        let schema = pg::schema(conn);
        run(conn, AUTHORS_AND_BOOKS);
        let writer = role_in(conn, &schema, "b_writer");
        run(
            conn,
            &format!(
                "GRANT SELECT, INSERT ON b_authors, b_books TO {r}; SET ROLE {r}",
                r = quoted(&writer.0)
            ),
        );
        let mut ran = false;
        let refused = load_unchecked(conn, &FkCatalog::new(), &options(&schema), |conn| {
            ran = true;
            conn.batch_execute("INSERT INTO b_books VALUES (1, 404)")
        });
        run(conn, "RESET ROLE");
        match refused {
            Err(error @ BulkLoadError::NotPermitted { .. }) => {
                let text = error.to_string();
                assert!(text.contains("session_replication_role"), "{text}");
                assert!(text.contains("b_books"), "{text}");
            }
            other => panic!("expected NotPermitted, got {other:?}"),
        }
        assert!(!ran);
        assert_eq!(count(conn, "b_books"), 0);
    }

    /// Replica mode turns off the user's own triggers too, and says so;
    /// after the load they fire again.
    fn replica_mode_says_what_else_it_turned_off(conn: &mut PgConnection) {
        let schema = pg::schema(conn);
        run(
            conn,
            &format!(
                "{AUTHORS_AND_BOOKS}
                 CREATE TABLE b_log (n BIGINT);
                 CREATE FUNCTION b_note() RETURNS trigger LANGUAGE plpgsql AS
                     $$ BEGIN INSERT INTO b_log VALUES (NEW.id); RETURN NEW; END $$;
                 CREATE TRIGGER b_noted AFTER INSERT ON b_books FOR EACH ROW EXECUTE FUNCTION b_note();"
            ),
        );
        let loaded = load_unchecked(conn, &FkCatalog::new(), &options(&schema), |conn| {
            conn.batch_execute(
                "INSERT INTO b_books VALUES (1, 1); INSERT INTO b_authors VALUES (1)",
            )
        })
        .expect("a clean load");
        assert_eq!(loaded.mechanism, Mechanism::ReplicationRole);
        assert!(
            loaded.effects.iter().any(|e| e.contains("the user's own")),
            "{:?}",
            loaded.effects
        );
        assert_eq!(count(conn, "b_log"), 0);
        assert_eq!(
            pg::text(
                conn,
                "SELECT current_setting('session_replication_role') AS name"
            ),
            "origin"
        );
        run(conn, "INSERT INTO b_books VALUES (2, 1)");
        assert_eq!(count(conn, "b_log"), 1);
    }

    /// Replica mode checks what the transaction wrote: a parent it deleted
    /// from (its children become orphans) and a partition it inserted into
    /// (the foreign key is declared on the partitioned table).
    fn replica_mode_checks_every_table_written(conn: &mut PgConnection) {
        let schema = pg::schema(conn);
        run(
            conn,
            &format!(
                "{AUTHORS_AND_BOOKS}
                 INSERT INTO b_authors VALUES (1); INSERT INTO b_books VALUES (1, 1);
                 CREATE TABLE b_sales (id BIGINT, author_id BIGINT REFERENCES b_authors (id))
                     PARTITION BY RANGE (id);
                 CREATE TABLE b_sales_low PARTITION OF b_sales FOR VALUES FROM (0) TO (100);"
            ),
        );
        let catalog = FkCatalog::new();
        let everything = BulkLoadOptions::new().schema(&schema);
        let deleted = load_unchecked(conn, &catalog, &everything, |conn| {
            conn.batch_execute("DELETE FROM b_authors")
        });
        match deleted {
            Err(BulkLoadError::Orphans { report, .. }) => {
                assert_eq!(report.total_orphans(), 1, "{report}");
                assert_eq!(
                    report.broken().next().map(|c| c.foreign_key.table.as_str()),
                    Some("b_books")
                );
            }
            other => panic!("expected orphans, got {other:?}"),
        }
        assert_eq!(count(conn, "b_authors"), 1);
        let partition = load_unchecked(conn, &catalog, &everything, |conn| {
            conn.batch_execute("INSERT INTO b_sales_low VALUES (1, 1), (2, 404)")
        });
        match partition {
            Err(BulkLoadError::Orphans { report, .. }) => {
                assert_eq!(report.total_orphans(), 1, "{report}");
                assert_eq!(
                    report.broken().next().map(|c| c.foreign_key.table.as_str()),
                    Some("b_sales")
                );
            }
            other => panic!("expected orphans, got {other:?}"),
        }
        assert_eq!(count(conn, "b_sales"), 0);
    }

    /// Without row counts (`track_counts = off`) every foreign key is
    /// checked; under REPEATABLE READ, whose snapshot would not see other
    /// sessions' deletes, replica mode is not used; after a replica-mode
    /// load the parent tables stay locked SHARE until the transaction ends.
    fn replica_mode_edges(conn: &mut PgConnection) {
        use diesel::Connection;
        let schema = pg::schema(conn);
        run(conn, AUTHORS_AND_BOOKS);
        let catalog = FkCatalog::new();
        run(conn, "SET track_counts = off");
        let uncounted = load_unchecked(conn, &catalog, &options(&schema), |conn| {
            conn.batch_execute("INSERT INTO b_books VALUES (1, 404)")
        });
        run(conn, "RESET track_counts");
        assert!(
            matches!(uncounted, Err(BulkLoadError::Orphans { .. })),
            "{uncounted:?}"
        );

        let repeatable = conn
            .build_transaction()
            .repeatable_read()
            .run(|conn| {
                let loaded = load_unchecked(conn, &catalog, &options(&schema), |conn| {
                    conn.batch_execute(
                        "INSERT INTO b_books VALUES (2, 20); INSERT INTO b_authors VALUES (20)",
                    )
                })
                .expect("a clean load");
                diesel::QueryResult::Ok(loaded.mechanism)
            })
            .expect("the caller's transaction");
        assert_eq!(repeatable, Mechanism::RecreatedConstraints);

        let locks = conn
            .transaction(|conn| {
                load_unchecked(conn, &catalog, &options(&schema), |conn| {
                    conn.batch_execute("INSERT INTO b_books VALUES (3, 20)")
                })
                .expect("a clean load");
                diesel::QueryResult::Ok(pg::text(
                    conn,
                    "SELECT string_agg(c.relname || ':' || l.mode, ',') AS name \
                     FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
                     WHERE l.pid = pg_backend_pid() AND l.mode = 'ShareLock' \
                       AND c.relname IN ('b_authors', 'b_books')",
                ))
            })
            .expect("the caller's transaction");
        assert_eq!(locks, "b_authors:ShareLock");
    }

    /// Orphans kept under recreated constraints leave only the key they
    /// break NOT VALID; the other keys come back valid, as declared, and
    /// the result says which was left NOT VALID.
    fn kept_orphans_leave_only_their_key_not_valid(conn: &mut PgConnection) {
        let schema = pg::schema(conn);
        run(
            conn,
            &format!(
                "{AUTHORS_AND_BOOKS}
                 CREATE TABLE b_reviews (id BIGINT PRIMARY KEY, book_id BIGINT REFERENCES b_books (id));"
            ),
        );
        let options = BulkLoadOptions::new()
            .schema(&schema)
            .table("b_books")
            .table("b_reviews")
            .keep_orphans();
        let kept = load_unchecked(conn, &FkCatalog::new(), &options, |conn| {
            conn.batch_execute("INSERT INTO b_books VALUES (1, 404)")
        })
        .expect("orphans kept");
        assert_eq!(kept.mechanism, Mechanism::RecreatedConstraints);
        assert_eq!(kept.report.total_orphans(), 1);
        assert!(
            kept.effects
                .iter()
                .any(|e| e.contains("NOT VALID") && e.contains("b_books")),
            "{:?}",
            kept.effects
        );
        let validity = pg::text(
            conn,
            "SELECT string_agg(conrelid::regclass::text || '=' || convalidated, ',' ORDER BY 1) AS name \
             FROM pg_constraint WHERE contype = 'f' AND conrelid IN ('b_books'::regclass, 'b_reviews'::regclass)",
        );
        assert_eq!(validity, "b_books=false,b_reviews=true");
    }

    common::on_postgres! {
        kept_orphans_leave_only_their_key_not_valid,
        replica_mode_edges,
        replica_mode_checks_every_table_written,
        a_table_owner_recreates_the_constraints,
        a_role_without_rights_is_refused,
        replica_mode_says_what_else_it_turned_off,
    }
}

#[cfg(feature = "sqlite")]
mod sqlite_modes {
    use super::*;
    use diesel::SqliteConnection;

    /// SQLite cannot commit rows that break an enforced foreign key: keeping
    /// orphans is refused up front. With foreign keys off on the connection
    /// they are kept and reported.
    fn keeping_orphans_needs_foreign_keys_off(conn: &mut SqliteConnection) {
        run(conn, AUTHORS_AND_BOOKS);
        let catalog = FkCatalog::new();
        let mut ran = false;
        let refused = load_unchecked(conn, &catalog, &options("main").keep_orphans(), |conn| {
            ran = true;
            conn.batch_execute("INSERT INTO b_books VALUES (1, 404)")
        });
        assert!(
            matches!(refused, Err(BulkLoadError::CannotKeep(_))),
            "{refused:?}"
        );
        assert!(!ran);

        run(conn, "PRAGMA foreign_keys = OFF");
        let kept = load_unchecked(conn, &catalog, &options("main").keep_orphans(), |conn| {
            conn.batch_execute("INSERT INTO b_books VALUES (1, 404)")
        })
        .expect("kept");
        assert_eq!(kept.mechanism, Mechanism::ForeignKeysOff);
        assert_eq!(kept.report.total_orphans(), 1);
        assert_eq!(count(conn, "b_books"), 1);
        run(conn, "PRAGMA foreign_keys = ON");
    }

    common::on_sqlite! {
        keeping_orphans_needs_foreign_keys_off,
    }
}

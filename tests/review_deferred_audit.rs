//! Hostile review of `fk_safe::integrity::deferred` and
//! `fk_safe::integrity::audit`: each test states what the module promises
//! and checks it against what the database really does. Those named
//! FINDING failed before their fix (a work that commits by itself or turns
//! SQLite's deferral off, rows SQLite names without a rowid, a TEMP table
//! shadowing a child, a key name shared with another constraint, a key the
//! work defers itself; cycles across schemas, keys to partitions, join
//! tables, domains, partition-only indexes); the others held.

mod common;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::LoadQuery;
use fk_safe::integrity::audit::{audit, AuditOptions, AuditReport, Finding};
use fk_safe::integrity::deferred::{with_deferred, Deferral, DeferredError};
use fk_safe::{FkCatalog, FkConnection};

use common::Count;

fn run<C: FkConnection>(conn: &mut C, statements: &str) {
    conn.batch_execute(statements)
        .unwrap_or_else(|e| panic!("{statements}: {e}"));
}

fn n<C>(conn: &mut C, sql: &str) -> i64
where
    C: FkConnection,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    common::count(conn, sql)
}

/// The findings of `kind` whose text names a table starting with `prefix`
/// (the migrated shop tables have findings of their own).
fn mine<'a>(report: &'a AuditReport, kind: &str, prefix: &str) -> Vec<&'a Finding> {
    let dotted = format!(".{prefix}");
    report
        .of_kind(kind)
        .filter(|f| f.to_string().contains(&dotted))
        .collect()
}

/// A work that commits by itself, writes on in autocommit and then fails:
/// `with_deferred` reports the work's error ("everything it wrote was
/// rolled back") while the rows stay committed.
fn work_that_commits_then_fails<C>(conn: &mut C, commit: &str)
where
    C: FkConnection,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    run(
        conn,
        "CREATE TABLE r_parents (id BIGINT PRIMARY KEY);
         CREATE TABLE r_children (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES r_parents (id))",
    );
    let outcome = with_deferred(
        conn,
        &FkCatalog::new(),
        &Deferral::all_deferrable(),
        |conn| {
            conn.batch_execute("INSERT INTO r_parents (id) VALUES (1)")?;
            conn.batch_execute(commit)?;
            conn.batch_execute("INSERT INTO r_parents (id) VALUES (2)")?;
            Err::<(), fk_safe::Error>(fk_safe::Error::Database(
                diesel::result::Error::RollbackTransaction,
            ))
        },
    );
    let committed = n(conn, "SELECT COUNT(*) AS n FROM r_parents");
    // Told as it is: the rows before the work's own COMMIT may be committed.
    if matches!(outcome, Err(DeferredError::TransactionEnded)) {
        return;
    }
    assert_eq!(
        committed, 0,
        "with_deferred returned {outcome:?} (a failure, so 'nothing was committed'), yet \
         {committed} rows of the work are committed; the transaction the work ended was not noticed"
    );
}

common::on_both_backends! {
    /// FINDING 1.
    work_commits_by_itself = work_that_commits_then_fails => ("COMMIT"),
}

#[cfg(feature = "sqlite")]
mod sqlite_deferred {
    use super::*;
    use common::sqlite::SqliteDb;

    /// A row broken before the work (written with the checks off) is
    /// repaired by the work, and a new orphan written; the work may end
    /// with `PRAGMA defer_foreign_keys = OFF` (which makes SQLite forget
    /// the violations it counted). Returns the outcome and how many orphans
    /// a second connection sees committed.
    fn repaired_and_new_orphan(
        without_rowid: bool,
        pragma_off: bool,
    ) -> (Result<(), DeferredError<fk_safe::Error>>, i64) {
        let db = SqliteDb::new();
        let mut conn = db.conn();
        let table_options = if without_rowid { "WITHOUT ROWID" } else { "" };
        run(
            &mut conn,
            &format!(
                "CREATE TABLE w_parents (id INTEGER PRIMARY KEY);
                 CREATE TABLE w_children (id INTEGER NOT NULL PRIMARY KEY,
                     parent_id INTEGER REFERENCES w_parents (id)) {table_options};
                 INSERT INTO w_parents (id) VALUES (1);"
            ),
        );
        run(&mut conn, "PRAGMA foreign_keys = OFF");
        run(
            &mut conn,
            "INSERT INTO w_children (id, parent_id) VALUES (1, 99)",
        );
        run(&mut conn, "PRAGMA foreign_keys = ON");
        let outcome = with_deferred(&mut conn, &FkCatalog::new(), &Deferral::all(), |conn| {
            conn.batch_execute(
                "UPDATE w_children SET parent_id = 1 WHERE id = 1;
                 INSERT INTO w_children (id, parent_id) VALUES (2, 77);",
            )?;
            if pragma_off {
                conn.batch_execute("PRAGMA defer_foreign_keys = OFF")?;
            }
            Ok::<_, fk_safe::Error>(())
        });
        // fk-safe ended its transaction, whatever the outcome.
        assert!(
            conn.batch_execute("BEGIN; ROLLBACK").is_ok(),
            "the connection is left inside a transaction after {outcome:?}"
        );
        // The work's own orphan (id 2), committed or not.
        let orphans = n(
            &mut db.conn(),
            "SELECT COUNT(*) AS n FROM w_children WHERE id = 2",
        );
        (outcome, orphans)
    }

    /// The control: a rowid table's new orphan is found by the check,
    /// explained, and nothing is committed, with or without the pragma.
    #[test]
    fn rowid_new_orphan_is_found() {
        for pragma_off in [false, true] {
            let (outcome, orphans) = repaired_and_new_orphan(false, pragma_off);
            assert_eq!(orphans, 0, "the work's orphan is committed");
            if pragma_off && matches!(outcome, Err(DeferredError::DeferralUndone(_))) {
                continue;
            }
            let Err(DeferredError::Violation { violation, .. }) = &outcome else {
                panic!("{outcome:?}")
            };
            assert_eq!(violation.child_table(), Some("w_children"), "{outcome:?}");
        }
    }

    /// A WITHOUT ROWID child: `PRAGMA foreign_key_check` names its broken
    /// rows with a NULL rowid, so fk-safe reads no key and every broken row
    /// of that table and key compares equal; the new orphan is taken for
    /// the one from before. SQLite's own COMMIT counter still fails, with a
    /// violation that names no table.
    #[test]
    fn without_rowid_new_orphan_is_explained() {
        let (outcome, orphans) = repaired_and_new_orphan(true, false);
        assert_eq!(orphans, 0, "the work's orphan is committed");
        let Err(DeferredError::Violation { violation, .. }) = &outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(violation.child_table(), Some("w_children"), "{outcome:?}");
    }

    /// The same, with the work ending `PRAGMA defer_foreign_keys = OFF`:
    /// SQLite forgets its count, the check misses the new orphan, and it is
    /// committed as success.
    #[test]
    fn without_rowid_new_orphan_is_committed() {
        let (outcome, orphans) = repaired_and_new_orphan(true, true);
        assert!(
            matches!(
                outcome,
                Err(DeferredError::Violation { .. } | DeferredError::DeferralUndone(_))
            ) && orphans == 0,
            "with_deferred returned {outcome:?}; the work's orphan committed: {orphans}"
        );
    }

    /// Held: `PRAGMA foreign_keys = OFF` in the work is a no-op inside the
    /// transaction, and the orphan it writes is found; a nested
    /// with_deferred that fails rolls back to its savepoint only, and the
    /// outer work's cycle is committed.
    #[test]
    fn foreign_keys_off_in_the_work_and_nesting() {
        let db = SqliteDb::new();
        let mut conn = db.conn();
        run(
            &mut conn,
            "CREATE TABLE f_parents (id INTEGER PRIMARY KEY, child_id INTEGER NOT NULL REFERENCES f_children (id));
             CREATE TABLE f_children (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES f_parents (id));",
        );
        let catalog = FkCatalog::new();
        let off = with_deferred(&mut conn, &catalog, &Deferral::all(), |conn| {
            conn.batch_execute(
                "PRAGMA foreign_keys = OFF;
                 INSERT INTO f_children (id, parent_id) VALUES (1, 99);",
            )?;
            Ok::<_, fk_safe::Error>(())
        });
        assert!(
            matches!(&off, Err(DeferredError::Violation { violation, .. })
                if violation.child_table() == Some("f_children")),
            "{off:?}"
        );
        let outer = with_deferred(&mut conn, &catalog, &Deferral::all(), |conn| {
            conn.batch_execute("INSERT INTO f_parents (id, child_id) VALUES (1, 10)")?;
            let inner = with_deferred(conn, &catalog, &Deferral::all(), |conn| {
                conn.batch_execute("INSERT INTO f_children (id, parent_id) VALUES (20, 99)")?;
                Ok::<_, fk_safe::Error>(())
            });
            assert!(
                matches!(&inner, Err(DeferredError::Violation { violation, .. })
                    if violation.child_table() == Some("f_children")),
                "{inner:?}"
            );
            conn.batch_execute("INSERT INTO f_children (id, parent_id) VALUES (10, 1)")?;
            Ok::<_, fk_safe::Error>(())
        });
        assert!(outer.is_ok(), "{outer:?}");
        assert_eq!(n(&mut conn, "SELECT COUNT(*) AS n FROM f_children"), 1);
        assert_eq!(
            n(
                &mut conn,
                "SELECT defer_foreign_keys AS n FROM pragma_defer_foreign_keys"
            ),
            0
        );
    }

    /// An attached database: its broken rows are told apart by rowid
    /// only (fk-safe reads no key outside `main`). The work deletes the
    /// orphan from before (the last row) and writes a new orphan, which
    /// SQLite gives the freed rowid; the work ends with `PRAGMA
    /// defer_foreign_keys = OFF`. In `main` the new key tells the rows
    /// apart (the control); in the attached database the orphan is
    /// committed as success.
    fn replaced_orphan(attached: bool) -> (Result<(), DeferredError<fk_safe::Error>>, i64) {
        let db = SqliteDb::new();
        let other = SqliteDb::new();
        let mut conn = db.conn();
        let schema = if attached {
            run(
                &mut conn,
                &format!("ATTACH DATABASE '{}' AS side", other.url()),
            );
            "side"
        } else {
            "main"
        };
        run(
            &mut conn,
            &format!(
                "CREATE TABLE {schema}.a_parents (id INTEGER PRIMARY KEY);
                 CREATE TABLE {schema}.a_children (id INTEGER PRIMARY KEY,
                     parent_id INTEGER REFERENCES a_parents (id));"
            ),
        );
        run(&mut conn, "PRAGMA foreign_keys = OFF");
        run(
            &mut conn,
            &format!("INSERT INTO {schema}.a_children (id, parent_id) VALUES (1, 99)"),
        );
        run(&mut conn, "PRAGMA foreign_keys = ON");
        let outcome = with_deferred(&mut conn, &FkCatalog::new(), &Deferral::all(), |conn| {
            conn.batch_execute(&format!(
                "DELETE FROM {schema}.a_children WHERE id = 1;
                 INSERT INTO {schema}.a_children (parent_id) VALUES (77);
                 PRAGMA defer_foreign_keys = OFF;"
            ))?;
            Ok::<_, fk_safe::Error>(())
        });
        let committed = n(
            &mut conn,
            &format!("SELECT COUNT(*) AS n FROM {schema}.a_children WHERE parent_id = 77"),
        );
        (outcome, committed)
    }

    #[test]
    fn replaced_orphan_in_main_is_found() {
        let (outcome, committed) = replaced_orphan(false);
        assert!(
            matches!(
                outcome,
                Err(DeferredError::Violation { .. } | DeferredError::DeferralUndone(_))
            ) && committed == 0,
            "{outcome:?}, committed {committed}"
        );
    }

    #[test]
    fn replaced_orphan_in_an_attached_database_is_found() {
        let (outcome, committed) = replaced_orphan(true);
        assert!(
            matches!(
                outcome,
                Err(DeferredError::Violation { .. } | DeferredError::DeferralUndone(_))
            ) && committed == 0,
            "{outcome:?}, committed {committed}"
        );
    }

    /// A row broken before the work whose key the work changes to another
    /// missing parent is held against the work (the module reads its key
    /// before and after). A TEMP table of the same name makes fk-safe read
    /// the key from the TEMP table (`row_values` names the table bare), so
    /// the change is not seen and the re-keyed orphan is committed.
    fn rekeyed_orphan(
        temp_shadow: bool,
        pragma_off: bool,
    ) -> Result<(), DeferredError<fk_safe::Error>> {
        let db = SqliteDb::new();
        let mut conn = db.conn();
        run(
            &mut conn,
            "CREATE TABLE t_parents (id INTEGER PRIMARY KEY);
             CREATE TABLE t_children (id INTEGER PRIMARY KEY,
                 parent_id INTEGER REFERENCES t_parents (id));",
        );
        run(&mut conn, "PRAGMA foreign_keys = OFF");
        run(
            &mut conn,
            "INSERT INTO t_children (id, parent_id) VALUES (1, 99)",
        );
        run(&mut conn, "PRAGMA foreign_keys = ON");
        if temp_shadow {
            run(
                &mut conn,
                "CREATE TEMP TABLE t_children (id INTEGER PRIMARY KEY, parent_id INTEGER);
                 INSERT INTO temp.t_children (id, parent_id) VALUES (1, 5);",
            );
        }
        with_deferred(&mut conn, &FkCatalog::new(), &Deferral::all(), |conn| {
            conn.batch_execute("UPDATE main.t_children SET parent_id = 98 WHERE id = 1")?;
            if pragma_off {
                conn.batch_execute("PRAGMA defer_foreign_keys = OFF")?;
            }
            Ok::<_, fk_safe::Error>(())
        })
    }

    #[test]
    fn rekeyed_orphan_is_held_against_the_work() {
        for pragma_off in [false, true] {
            let outcome = rekeyed_orphan(false, pragma_off);
            assert!(
                matches!(&outcome, Err(DeferredError::Violation { violation, .. })
                    if violation.child_table() == Some("t_children"))
                    // Turning the pragma off is refused as such.
                    || (pragma_off && matches!(&outcome, Err(DeferredError::DeferralUndone(_)))),
                "{outcome:?}"
            );
        }
    }

    /// SQLite's own count at COMMIT still catches the re-keyed orphan when
    /// the check reads the TEMP table's key (explained with no table); a
    /// work ending `PRAGMA defer_foreign_keys = OFF` makes it forget that
    /// count, and the re-keyed orphan is committed as success.
    #[test]
    fn rekeyed_orphan_under_a_temp_table_of_the_same_name() {
        for pragma_off in [false, true] {
            let outcome = rekeyed_orphan(true, pragma_off);
            assert!(
                matches!(&outcome, Err(DeferredError::Violation { violation, .. })
                    if violation.child_table() == Some("t_children"))
                    || (pragma_off && matches!(&outcome, Err(DeferredError::DeferralUndone(_)))),
                "{outcome:?}"
            );
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres_deferred {
    use super::*;
    use common::pg::PgDb;

    fn schema(conn: &mut PgConnection) -> String {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
            "current_schema()::text",
        ))
        .get_result(conn)
        .unwrap()
    }

    const CYCLE: &str =
        "CREATE TABLE c_departments (id BIGINT PRIMARY KEY, head_id BIGINT NOT NULL);
        CREATE TABLE c_heads (id BIGINT PRIMARY KEY, department_id BIGINT NOT NULL);";

    /// The statement `NotDeferrable` offers, run as given, makes the key
    /// deferrable: for a partitioned child and for a partitioned parent.
    #[test]
    fn the_offered_alter_works_on_partitioned_tables() {
        let db = PgDb::new();
        let mut conn = db.conn();
        let s = schema(&mut conn);
        run(
            &mut conn,
            "CREATE TABLE q_heads (id BIGINT, department_id BIGINT NOT NULL, PRIMARY KEY (id)) PARTITION BY HASH (id);
             CREATE TABLE q_heads_0 PARTITION OF q_heads FOR VALUES WITH (MODULUS 2, REMAINDER 0);
             CREATE TABLE q_heads_1 PARTITION OF q_heads FOR VALUES WITH (MODULUS 2, REMAINDER 1);
             CREATE TABLE q_departments (id BIGINT PRIMARY KEY, head_id BIGINT NOT NULL,
                 CONSTRAINT q_head_fk FOREIGN KEY (head_id) REFERENCES q_heads (id));
             ALTER TABLE q_heads ADD CONSTRAINT q_department_fk FOREIGN KEY (department_id) REFERENCES q_departments (id);",
        );
        let catalog = FkCatalog::new();
        let deferral = Deferral::constraint_in(&s, "q_head_fk").and_in(&s, "q_department_fk");
        let refused = with_deferred(&mut conn, &catalog, &deferral, |_| {
            Ok::<_, fk_safe::Error>(())
        });
        let Err(DeferredError::NotDeferrable { keys, .. }) = refused else {
            panic!("{refused:?}")
        };
        assert_eq!(keys.len(), 2);
        for key in &keys {
            run(&mut conn, &key.statement);
        }
        let loaded = with_deferred(&mut conn, &catalog, &deferral, |conn| {
            conn.batch_execute(
                "INSERT INTO q_departments (id, head_id) VALUES (1, 10);
                 INSERT INTO q_heads (id, department_id) VALUES (10, 1);",
            )?;
            Ok::<_, fk_safe::Error>(())
        });
        assert!(loaded.is_ok(), "{loaded:?}");
        let broken = with_deferred(&mut conn, &catalog, &deferral, |conn| {
            conn.batch_execute("INSERT INTO q_departments (id, head_id) VALUES (2, 99)")?;
            Ok::<_, fk_safe::Error>(())
        });
        assert!(
            matches!(broken, Err(DeferredError::Violation { .. })),
            "{broken:?}"
        );
        assert_eq!(n(&mut conn, "SELECT COUNT(*) AS n FROM q_departments"), 1);
    }

    /// Held: a key chosen by name on a partitioned child whose partitions
    /// live in another schema (their clones of the key are constraints of
    /// that schema) is deferred and checked on the partitions too.
    #[test]
    fn partitions_in_another_schema_follow_the_named_key() {
        let db = PgDb::new();
        let mut conn = db.conn();
        let s = schema(&mut conn);
        let parts = format!("{s}_p");
        run(
            &mut conn,
            &format!(
                "CREATE SCHEMA {parts};
                 CREATE TABLE {s}.pp_heads (id BIGINT PRIMARY KEY);
                 CREATE TABLE {s}.pp_rows (id BIGINT, head_id BIGINT NOT NULL,
                     CONSTRAINT pp_head_fk FOREIGN KEY (head_id) REFERENCES {s}.pp_heads (id) DEFERRABLE)
                     PARTITION BY HASH (id);
                 CREATE TABLE {parts}.pp_rows_0 PARTITION OF {s}.pp_rows FOR VALUES WITH (MODULUS 1, REMAINDER 0);"
            ),
        );
        let catalog = FkCatalog::new();
        let deferral = Deferral::constraint_in(&s, "pp_head_fk");
        let loaded = with_deferred(&mut conn, &catalog, &deferral, |conn| {
            conn.batch_execute(
                "INSERT INTO pp_rows (id, head_id) VALUES (1, 7);
                 INSERT INTO pp_heads (id) VALUES (7);",
            )?;
            Ok::<_, fk_safe::Error>(())
        });
        let broken = with_deferred(&mut conn, &catalog, &deferral, |conn| {
            conn.batch_execute("INSERT INTO pp_rows (id, head_id) VALUES (2, 99)")?;
            Ok::<_, fk_safe::Error>(())
        });
        let rows = n(&mut conn, "SELECT COUNT(*) AS n FROM pp_rows");
        run(&mut conn, &format!("DROP SCHEMA {parts} CASCADE"));
        assert!(loaded.is_ok(), "{loaded:?}");
        assert!(
            matches!(&broken, Err(DeferredError::Violation { violation, .. })
                if violation.child_table() == Some("pp_rows")),
            "{broken:?}"
        );
        assert_eq!(rows, 1);
    }

    /// A name chosen is deferred by `SET CONSTRAINTS "schema"."name"`,
    /// which covers every constraint of that name in the schema. A NOT
    /// DEFERRABLE unique constraint of another table with the key's name
    /// makes that statement fail after BEGIN: the typed refusal before
    /// any SQL that the module promises for what cannot be deferred is
    /// replaced by a bare database error.
    #[test]
    fn a_name_shared_with_a_not_deferrable_unique_constraint() {
        let db = PgDb::new();
        let mut conn = db.conn();
        let s = schema(&mut conn);
        run(&mut conn, CYCLE);
        run(
            &mut conn,
            "ALTER TABLE c_departments ADD CONSTRAINT shared_name FOREIGN KEY (head_id) REFERENCES c_heads (id) DEFERRABLE;
             CREATE TABLE c_codes (code TEXT, CONSTRAINT shared_name UNIQUE (code));",
        );
        let outcome = with_deferred(
            &mut conn,
            &FkCatalog::new(),
            &Deferral::constraint_in(&s, "shared_name"),
            |_| Ok::<_, fk_safe::Error>(()),
        );
        match outcome {
            Err(DeferredError::SharedNames { clashes }) => {
                assert!(clashes[0].contains("shared_name"), "{clashes:?}")
            }
            other => panic!("expected a typed refusal before any SQL, got {other:?}"),
        }
    }

    /// Held: a key declared INITIALLY DEFERRED and not chosen, broken by
    /// the work, fails the COMMIT after the check passed; it comes back as
    /// a Violation naming its table, and nothing is committed.
    #[test]
    fn an_initially_deferred_key_not_chosen_fails_at_commit_explained() {
        let db = PgDb::new();
        let mut conn = db.conn();
        let s = schema(&mut conn);
        run(&mut conn, CYCLE);
        run(
            &mut conn,
            "ALTER TABLE c_departments ADD CONSTRAINT c_head_fk FOREIGN KEY (head_id) REFERENCES c_heads (id) DEFERRABLE;
             ALTER TABLE c_heads ADD CONSTRAINT c_department_fk FOREIGN KEY (department_id) REFERENCES c_departments (id) DEFERRABLE INITIALLY DEFERRED;",
        );
        let outcome = with_deferred(
            &mut conn,
            &FkCatalog::new(),
            &Deferral::constraint_in(&s, "c_head_fk"),
            |conn| {
                conn.batch_execute("INSERT INTO c_heads (id, department_id) VALUES (10, 77)")?;
                Ok::<_, fk_safe::Error>(())
            },
        );
        assert!(
            matches!(&outcome, Err(DeferredError::Violation { violation, .. })
                if violation.child_table() == Some("c_heads")),
            "{outcome:?}"
        );
        assert_eq!(n(&mut conn, "SELECT COUNT(*) AS n FROM c_heads"), 0);
    }

    /// Held: inside a caller's REPEATABLE READ transaction the work runs
    /// in a savepoint, a broken key is explained and rolled back to it, and
    /// the caller's transaction goes on.
    #[test]
    fn inside_a_repeatable_read_transaction() {
        let db = PgDb::new();
        let mut conn = db.conn();
        let s = schema(&mut conn);
        run(&mut conn, CYCLE);
        run(
            &mut conn,
            "ALTER TABLE c_departments ADD CONSTRAINT c_head_fk FOREIGN KEY (head_id) REFERENCES c_heads (id) DEFERRABLE;
             ALTER TABLE c_heads ADD CONSTRAINT c_department_fk FOREIGN KEY (department_id) REFERENCES c_departments (id) DEFERRABLE;",
        );
        let catalog = FkCatalog::new();
        let deferral = Deferral::constraint_in(&s, "c_head_fk").and_in(&s, "c_department_fk");
        conn.build_transaction()
            .repeatable_read()
            .run(|conn| {
                let broken = with_deferred(conn, &catalog, &deferral, |conn| {
                    conn.batch_execute("INSERT INTO c_departments (id, head_id) VALUES (2, 99)")?;
                    Ok::<_, fk_safe::Error>(())
                });
                assert!(
                    matches!(&broken, Err(DeferredError::Violation { violation, .. })
                        if violation.child_table() == Some("c_departments")),
                    "{broken:?}"
                );
                with_deferred(conn, &catalog, &deferral, |conn| {
                    conn.batch_execute(
                        "INSERT INTO c_departments (id, head_id) VALUES (1, 10);
                         INSERT INTO c_heads (id, department_id) VALUES (10, 1);",
                    )?;
                    Ok::<_, fk_safe::Error>(())
                })
                .unwrap();
                Ok::<_, diesel::result::Error>(())
            })
            .unwrap();
        assert_eq!(n(&mut conn, "SELECT COUNT(*) AS n FROM c_departments"), 1);
    }

    /// Inside a caller's transaction, a work that defers another (not
    /// chosen) deferrable key itself and breaks it: with_deferred's check
    /// covers the chosen keys only (documented: it cannot see which keys
    /// the work deferred, and checking every deferred key would check the
    /// caller's own pending rows), so the savepoint is released; the
    /// caller's COMMIT then refuses the row, so it is never committed.
    #[test]
    fn nested_work_deferring_another_key_itself() {
        let db = PgDb::new();
        let mut conn = db.conn();
        let s = schema(&mut conn);
        run(&mut conn, CYCLE);
        run(
            &mut conn,
            "ALTER TABLE c_departments ADD CONSTRAINT c_head_fk FOREIGN KEY (head_id) REFERENCES c_heads (id) DEFERRABLE;
             ALTER TABLE c_heads ADD CONSTRAINT c_department_fk FOREIGN KEY (department_id) REFERENCES c_departments (id) DEFERRABLE;",
        );
        let catalog = FkCatalog::new();
        let deferral = Deferral::constraint_in(&s, "c_head_fk");
        let work = |conn: &mut PgConnection| {
            conn.batch_execute(
                "SET CONSTRAINTS ALL DEFERRED;
                 INSERT INTO c_heads (id, department_id) VALUES (10, 77);",
            )?;
            Ok::<_, fk_safe::Error>(())
        };
        let top = with_deferred(&mut conn, &catalog, &deferral, work);
        assert!(
            matches!(top, Err(DeferredError::Violation { .. })),
            "top level: {top:?}"
        );
        let nested: Result<Result<(), DeferredError<fk_safe::Error>>, diesel::result::Error> = conn
            .transaction(|conn| {
                let inner = with_deferred(conn, &catalog, &deferral, work);
                Ok(inner)
            });
        assert!(
            matches!(nested, Ok(Err(DeferredError::Violation { .. })))
                || matches!(
                    nested,
                    Err(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                        _
                    ))
                ),
            "nested: {nested:?}"
        );
        assert_eq!(
            n(&mut conn, "SELECT COUNT(*) AS n FROM c_heads WHERE id = 10"),
            0
        );
    }
}

#[cfg(feature = "postgres")]
mod postgres_audit {
    use super::*;
    use common::pg::PgDb;

    fn schema(conn: &mut PgConnection) -> String {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
            "current_schema()::text",
        ))
        .get_result(conn)
        .unwrap()
    }

    fn own(conn: &mut PgConnection, s: &str) -> AuditReport {
        audit(conn, &FkCatalog::new(), &AuditOptions::new().schema(s)).expect("audit")
    }

    /// A cycle of NOT NULL, NOT DEFERRABLE keys across two schemas is
    /// unbreakable whichever schema is audited; auditing one of them (the
    /// schema filter, whose foreign keys with children there are audited)
    /// drops it without a word.
    #[test]
    fn a_cross_schema_unbreakable_cycle_survives_the_filter() {
        let db = PgDb::new();
        let mut conn = db.conn();
        let s = schema(&mut conn);
        let other = format!("{s}_x");
        run(
            &mut conn,
            &format!(
                "CREATE SCHEMA {other};
                 CREATE TABLE {s}.x_a (id BIGINT PRIMARY KEY, b_id BIGINT NOT NULL);
                 CREATE TABLE {other}.x_b (id BIGINT PRIMARY KEY, a_id BIGINT NOT NULL REFERENCES {s}.x_a (id));
                 ALTER TABLE {s}.x_a ADD FOREIGN KEY (b_id) REFERENCES {other}.x_b (id);"
            ),
        );
        let both = audit(
            &mut conn,
            &FkCatalog::new(),
            &AuditOptions::new().schema(&s).schema(&other),
        )
        .unwrap();
        let one = own(&mut conn, &s);
        // Every schema of the shared server: other tests drop theirs while
        // this one reads, so the facts are read in one snapshot.
        let every = conn
            .build_transaction()
            .repeatable_read()
            .read_only()
            .run(|conn| {
                Ok::<_, diesel::result::Error>(audit(conn, &FkCatalog::new(), &AuditOptions::new()))
            })
            .unwrap()
            .unwrap();
        run(&mut conn, &format!("DROP SCHEMA {other} CASCADE"));
        assert_eq!(
            mine(&every, "unbreakable-cycle", "x_").len(),
            1,
            "unfiltered: {every}"
        );
        assert_eq!(mine(&both, "unbreakable-cycle", "x_").len(), 1, "{both}");
        assert_eq!(mine(&one, "unbreakable-cycle", "x_").len(), 1, "{one}");
    }

    /// A foreign key may reference one partition directly. The audit's
    /// columns leave partitions out, so it takes the key's parent columns
    /// as gone and refuses the whole audit as a stale catalog.
    #[test]
    fn a_key_referencing_a_partition() {
        let db = PgDb::new();
        let mut conn = db.conn();
        let s = schema(&mut conn);
        run(
            &mut conn,
            "CREATE TABLE y_events (id BIGINT, at DATE NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
             CREATE TABLE y_events_2026 PARTITION OF y_events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
             ALTER TABLE y_events_2026 ADD UNIQUE (id);
             CREATE TABLE y_notes (id BIGINT PRIMARY KEY, event_id BIGINT REFERENCES y_events_2026 (id));
             CREATE INDEX ON y_notes (event_id);",
        );
        let report = audit(
            &mut conn,
            &FkCatalog::new(),
            &AuditOptions::new().schema(&s),
        );
        assert!(report.is_ok(), "{report:?}");
    }

    /// The classic missing key: a join table whose primary key is its two
    /// references. The rule leaves out every primary-key column, so the
    /// audit is clean although neither column has a foreign key.
    #[test]
    fn a_join_table_without_keys() {
        let db = PgDb::new();
        let mut conn = db.conn();
        let s = schema(&mut conn);
        run(
            &mut conn,
            "CREATE TABLE j_tags (id BIGINT PRIMARY KEY);
             CREATE TABLE j_posts (id BIGINT PRIMARY KEY);
             CREATE TABLE j_post_tags (post_id BIGINT, tag_id BIGINT, PRIMARY KEY (post_id, tag_id));",
        );
        let report = own(&mut conn, &s);
        let on_join: Vec<String> = report
            .of_kind("unconstrained-reference")
            .map(ToString::to_string)
            .filter(|f| f.contains("j_post_tags"))
            .collect();
        assert_eq!(on_join.len(), 2, "{report}");
    }

    /// A domain over bigint referencing bigint compares exactly as bigint
    /// (the key was accepted, the lookups use bigint's operators): not a
    /// type mismatch.
    #[test]
    fn a_domain_over_the_parents_type() {
        let db = PgDb::new();
        let mut conn = db.conn();
        let s = schema(&mut conn);
        run(
            &mut conn,
            "CREATE DOMAIN z_ref AS BIGINT CHECK (VALUE > 0);
             CREATE TABLE z_parents (id BIGINT PRIMARY KEY);
             CREATE TABLE z_children (id BIGINT PRIMARY KEY, parent_id z_ref REFERENCES z_parents (id));
             CREATE INDEX ON z_children (parent_id);",
        );
        let report = own(&mut conn, &s);
        assert!(mine(&report, "type-mismatch", "z_").is_empty(), "{report}");
    }

    /// An index on every partition (none on the partitioned table) serves
    /// the parent's lookups, which scan the partitions.
    #[test]
    fn indexes_on_every_partition() {
        let db = PgDb::new();
        let mut conn = db.conn();
        let s = schema(&mut conn);
        run(
            &mut conn,
            "CREATE TABLE v_parents (id BIGINT PRIMARY KEY);
             CREATE TABLE v_events (id BIGINT, parent_id BIGINT REFERENCES v_parents (id), at DATE NOT NULL) PARTITION BY RANGE (at);
             CREATE TABLE v_events_2026 PARTITION OF v_events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
             CREATE INDEX ON v_events_2026 (parent_id);",
        );
        let report = own(&mut conn, &s);
        assert!(
            mine(&report, "unindexed-foreign-key", "v_").is_empty(),
            "{report}"
        );
    }

    /// What held: indexes that look like they serve the key but do not.
    #[test]
    fn lookalike_indexes_do_not_count() {
        let db = PgDb::new();
        let mut conn = db.conn();
        let s = schema(&mut conn);
        let other = format!("{s}_l");
        run(
            &mut conn,
            &format!(
                "CREATE TABLE l_parents (id BIGINT PRIMARY KEY, a BIGINT, b BIGINT, UNIQUE (a, b));
                 CREATE TABLE l_expr (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES l_parents (id));
                 CREATE INDEX ON l_expr ((parent_id + 0));
                 CREATE TABLE l_incl (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES l_parents (id));
                 CREATE INDEX ON l_incl (id) INCLUDE (parent_id);
                 CREATE TABLE l_hash (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES l_parents (id));
                 CREATE INDEX ON l_hash USING hash (parent_id);
                 CREATE TABLE l_part (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES l_parents (id));
                 CREATE INDEX ON l_part (parent_id) WHERE parent_id IS NOT NULL OR parent_id IS NULL;
                 CREATE TABLE l_coll (id BIGINT PRIMARY KEY, code TEXT UNIQUE);
                 CREATE TABLE l_coll_child (id BIGINT PRIMARY KEY, code TEXT REFERENCES l_coll (code));
                 CREATE INDEX ON l_coll_child (code COLLATE \"C\");
                 CREATE TABLE l_multi (id BIGINT PRIMARY KEY, a BIGINT, b BIGINT, c BIGINT,
                     FOREIGN KEY (a, b) REFERENCES l_parents (a, b));
                 CREATE INDEX ON l_multi (a, c, b);
                 CREATE SCHEMA {other};
                 CREATE TABLE {other}.l_plain (id BIGINT PRIMARY KEY, parent_id BIGINT);
                 CREATE INDEX ON {other}.l_plain (parent_id);
                 CREATE TABLE l_plain (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES l_parents (id));
                 CREATE INDEX ON l_parents (id, a);"
            ),
        );
        let report = own(&mut conn, &s);
        run(&mut conn, &format!("DROP SCHEMA {other} CASCADE"));
        let unindexed: Vec<String> = report
            .of_kind("unindexed-foreign-key")
            .map(|f| match f {
                Finding::UnindexedForeignKey { foreign_key, .. } => foreign_key.table.clone(),
                _ => unreachable!(),
            })
            .collect();
        for table in [
            "l_expr",
            "l_incl",
            "l_hash",
            "l_part",
            "l_coll_child",
            "l_multi",
            "l_plain",
        ] {
            assert!(
                unindexed.iter().any(|t| t == table),
                "{table} is taken as indexed: {report}"
            );
        }
    }

    /// What held: a multi-column key whose index leads with its columns in
    /// another order, a unique constraint's index and the primary key's
    /// leading columns all serve the key.
    #[test]
    fn serving_indexes_count() {
        let db = PgDb::new();
        let mut conn = db.conn();
        let s = schema(&mut conn);
        run(
            &mut conn,
            "CREATE TABLE k_parents (a BIGINT, b BIGINT, PRIMARY KEY (a, b));
             CREATE TABLE k_perm (id BIGINT PRIMARY KEY, a BIGINT, b BIGINT, c BIGINT,
                 FOREIGN KEY (a, b) REFERENCES k_parents (a, b));
             CREATE INDEX ON k_perm (b, a, c);
             CREATE TABLE k_uniq (id BIGINT PRIMARY KEY, a BIGINT, b BIGINT,
                 FOREIGN KEY (a, b) REFERENCES k_parents (a, b), UNIQUE (a, b));
             CREATE TABLE k_pk (a BIGINT, b BIGINT, n BIGINT, PRIMARY KEY (b, a, n),
                 FOREIGN KEY (a, b) REFERENCES k_parents (a, b));",
        );
        let report = own(&mut conn, &s);
        assert!(
            mine(&report, "unindexed-foreign-key", "k_").is_empty(),
            "{report}"
        );
        assert!(
            mine(&report, "unconstrained-reference", "k_").is_empty(),
            "{report}"
        );
    }
}

#[cfg(feature = "sqlite")]
mod sqlite_audit {
    use super::*;
    use common::sqlite::SqliteDb;

    /// Recreates the shop's `orders` with `customer` as its key's clause.
    fn orders_with(conn: &mut SqliteConnection, customer: &str) {
        run(conn, "PRAGMA foreign_keys = OFF");
        run(
            conn,
            &format!(
                "DROP TABLE orders;
                 CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id BIGINT NOT NULL {customer},
                     buyer_id BIGINT REFERENCES customers (id),
                     total_cents BIGINT NOT NULL DEFAULT 0, reference TEXT UNIQUE);"
            ),
        );
        run(conn, "PRAGMA foreign_keys = ON");
    }

    fn drift(conn: &mut SqliteConnection) -> Vec<String> {
        let report = audit(
            conn,
            &FkCatalog::new(),
            &AuditOptions::new().model::<fk_safe_suite::models::NewOrder>(),
        )
        .unwrap();
        report
            .findings
            .iter()
            .filter(|f| f.kind().starts_with("model-"))
            .map(ToString::to_string)
            .collect()
    }

    /// Held: NewOrder's relation is customer_id -> customers (id); a key
    /// on another column of the same table (buyer_id) does not stand in
    /// for it.
    #[test]
    fn a_key_on_another_column_is_no_stand_in() {
        let db = SqliteDb::new();
        let mut conn = db.conn();
        orders_with(&mut conn, "");
        let found = drift(&mut conn);
        assert!(
            found.len() == 1 && found[0].contains("no foreign key on main.orders (customer_id)"),
            "{found:?}"
        );
    }

    /// The key written `REFERENCES CUSTOMERS (ID)` is NewOrder's relation
    /// (SQLite matches names without regard to ASCII case).
    #[test]
    fn the_models_key_written_in_upper_case_is_no_drift() {
        let db = SqliteDb::new();
        let mut conn = db.conn();
        orders_with(&mut conn, "REFERENCES CUSTOMERS (ID)");
        let found = drift(&mut conn);
        assert!(found.is_empty(), "{found:?}");
    }

    /// SQLite keeps a foreign key's parent table as written in
    /// `REFERENCES`, and matches it without regard to ASCII case. A key
    /// written `REFERENCES Q_PARENTS` is the model's relation to
    /// `q_parents`; the drift check must not call it a mismatch.
    #[test]
    fn parent_named_in_another_case_is_no_drift() {
        let db = SqliteDb::new();
        let mut conn = db.conn();
        run(
            &mut conn,
            "CREATE TABLE Q_Parents (id INTEGER PRIMARY KEY);
             CREATE TABLE q_children (id INTEGER PRIMARY KEY, parent_id BIGINT REFERENCES Q_PARENTS (ID));
             CREATE INDEX q_children_parent ON q_children (parent_id);",
        );
        let report = audit(&mut conn, &FkCatalog::new(), &AuditOptions::new()).unwrap();
        assert!(
            mine(&report, "dangling-foreign-key", "q_").is_empty(),
            "{report}"
        );
        assert!(
            mine(&report, "unindexed-foreign-key", "q_").is_empty(),
            "{report}"
        );
        assert!(mine(&report, "type-mismatch", "q_").is_empty(), "{report}");
    }
}

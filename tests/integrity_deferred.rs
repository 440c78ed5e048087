//! Work with foreign keys deferred (`fk_safe::integrity::deferred`) on the
//! real servers: a mutual cycle loaded in any order, keys that cannot be
//! deferred refused before anything runs (with the statement that fixes
//! them, which is then run), broken keys explained before commit and
//! nothing committed, failing and panicking work rolled back, names that
//! match nothing or several schemas, hostile identifiers, and use inside a
//! caller's transaction.

mod common;

use std::panic::{self, AssertUnwindSafe};

use diesel::connection::{Connection, TransactionManager};
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::LoadQuery;
use fk_safe::integrity::deferred::{with_deferred, Deferral, DeferredError};
use fk_safe::{FkCatalog, FkConnection, ViolationKind};

use common::Count;

/// Runs `statements` or fails the test naming them.
fn run<C: FkConnection>(conn: &mut C, statements: &str) {
    conn.batch_execute(statements)
        .unwrap_or_else(|e| panic!("{statements}: {e}"));
}

/// `name` as a quoted identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn rows<C>(conn: &mut C, table: &str) -> i64
where
    C: FkConnection,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    common::count_rows(conn, table)
}

/// Whether `conn` has a transaction open (Diesel's count).
fn in_transaction<C: Connection>(conn: &mut C) -> bool {
    <C::TransactionManager as TransactionManager<C>>::transaction_manager_status_mut(conn)
        .transaction_depth()
        .expect("a valid transaction manager")
        .is_some()
}

/// Inserts a department and its head, each referencing the other: no order
/// of the two statements satisfies both keys at once.
fn load_cycle<C: FkConnection>(
    conn: &mut C,
    department: i64,
    head: i64,
) -> Result<(), fk_safe::Error> {
    conn.batch_execute(&format!(
        "INSERT INTO d_departments (id, head_id) VALUES ({department}, {head});
         INSERT INTO d_heads (id, department_id) VALUES ({head}, {department})"
    ))?;
    Ok(())
}

/// The mutual cycle, loaded deferred, is committed; without deferral the
/// same statements fail.
fn a_mutual_cycle_loads_deferred<C>(conn: &mut C, cycle: &str, deferral: fn(&mut C) -> Deferral)
where
    C: FkConnection,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    run(conn, cycle);
    let deferral = &deferral(conn);
    let catalog = FkCatalog::new();
    let undeferred = conn.transaction(|conn| load_cycle(conn, 1, 10));
    assert!(
        matches!(undeferred, Err(fk_safe::Error::ForeignKey(_))),
        "{undeferred:?}"
    );
    with_deferred(conn, &catalog, deferral, |conn| load_cycle(conn, 1, 10)).unwrap();
    assert!(!in_transaction(conn));
    assert_eq!(rows(conn, "d_departments"), 1);
    assert_eq!(rows(conn, "d_heads"), 1);
}

/// A head who never arrives: the check before commit explains it with its
/// table, columns and key, and the department is not committed.
fn a_broken_key_is_explained_before_commit<C>(
    conn: &mut C,
    cycle: &str,
    deferral: fn(&mut C) -> Deferral,
) where
    C: FkConnection,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    run(conn, cycle);
    let deferral = &deferral(conn);
    let catalog = FkCatalog::new();
    let failed = with_deferred(conn, &catalog, deferral, |conn| {
        load_cycle(conn, 1, 10)?;
        conn.batch_execute("INSERT INTO d_departments (id, head_id) VALUES (2, 99)")?;
        Ok::<_, fk_safe::Error>(())
    });
    let Err(DeferredError::Violation {
        violation,
        rows: counted,
    }) = failed
    else {
        panic!("a violation expected: {failed:?}")
    };
    assert_eq!(
        violation.kind(),
        ViolationKind::MissingParent,
        "{violation}"
    );
    assert_eq!(violation.child_table(), Some("d_departments"));
    assert_eq!(violation.child_columns(), ["head_id"]);
    assert_eq!(violation.parent_table(), Some("d_heads"));
    assert_eq!(violation.parent_columns(), ["id"]);
    assert_eq!(violation.key_values(), Some(&[Some("99".to_string())][..]));
    assert!(matches!(counted, None | Some(1)), "{counted:?}");
    let text = violation.to_string();
    assert!(text.contains("d_departments.head_id = 99"), "{text}");
    assert!(!in_transaction(conn));
    assert_eq!(rows(conn, "d_departments"), 0);
    assert_eq!(rows(conn, "d_heads"), 0);
}

/// A parent deleted under the deferral while its child stays is reported
/// as still referenced.
fn a_deleted_parent_is_explained<C>(conn: &mut C, cycle: &str, deferral: fn(&mut C) -> Deferral)
where
    C: FkConnection,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    run(conn, cycle);
    let deferral = &deferral(conn);
    let catalog = FkCatalog::new();
    with_deferred(conn, &catalog, deferral, |conn| load_cycle(conn, 1, 10)).unwrap();
    let failed = with_deferred(conn, &catalog, deferral, |conn| {
        conn.batch_execute("DELETE FROM d_heads WHERE id = 10")?;
        Ok::<_, fk_safe::Error>(())
    });
    let violation = failed.as_ref().err().and_then(DeferredError::as_violation);
    let violation = violation.unwrap_or_else(|| panic!("a violation expected: {failed:?}"));
    assert_eq!(
        violation.kind(),
        ViolationKind::StillReferenced,
        "{violation}"
    );
    assert_eq!(violation.child_table(), Some("d_departments"));
    assert_eq!(violation.parent_table(), Some("d_heads"));
    assert_eq!(violation.key_values(), Some(&[Some("10".to_string())][..]));
    assert_eq!(rows(conn, "d_heads"), 1);
}

/// An error of the work and a panic in it both roll back, and the
/// connection is usable afterwards with nothing left open.
fn failing_and_panicking_work_roll_back<C>(
    conn: &mut C,
    cycle: &str,
    deferral: fn(&mut C) -> Deferral,
) where
    C: FkConnection,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    run(conn, cycle);
    let deferral = &deferral(conn);
    let catalog = FkCatalog::new();
    let failed = with_deferred(conn, &catalog, deferral, |conn| {
        load_cycle(conn, 1, 10).map_err(|e| e.to_string())?;
        Err::<(), _>("the work gave up".to_string())
    });
    assert!(
        matches!(&failed, Err(DeferredError::Work(why)) if why == "the work gave up"),
        "{failed:?}"
    );
    assert!(!in_transaction(conn));
    assert_eq!(rows(conn, "d_departments"), 0);

    let panicked = panic::catch_unwind(AssertUnwindSafe(|| {
        let _ = with_deferred(conn, &catalog, deferral, |conn| {
            load_cycle(conn, 1, 10)?;
            conn.batch_execute("INSERT INTO d_departments (id, head_id) VALUES (2, 99)")?;
            if rows(conn, "d_departments") == 2 {
                panic!("the work panics halfway");
            }
            Ok::<_, fk_safe::Error>(())
        });
    }));
    assert!(panicked.is_err(), "the panic goes on");
    assert!(!in_transaction(conn));
    assert_eq!(rows(conn, "d_departments"), 0);
    assert_eq!(rows(conn, "d_heads"), 0);
    // The keys are immediate again: a lone department fails at once.
    let lone = conn.batch_execute("INSERT INTO d_departments (id, head_id) VALUES (3, 30)");
    assert!(lone.is_err(), "the key was left deferred");
    // And the connection loads and commits as before.
    with_deferred(conn, &catalog, deferral, |conn| load_cycle(conn, 4, 40)).unwrap();
    assert_eq!(rows(conn, "d_departments"), 1);
}

/// Inside a caller's transaction the work runs in a savepoint: a failed
/// check rolls back only the work, the caller's rows and a successful
/// deferred load stay, and the keys are immediate again for the caller.
fn inside_a_callers_transaction<C>(conn: &mut C, cycle: &str, deferral: fn(&mut C) -> Deferral)
where
    C: FkConnection,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    run(conn, cycle);
    let deferral = &deferral(conn);
    let catalog = FkCatalog::new();
    conn.transaction(|conn| {
        with_deferred(conn, &catalog, deferral, |conn| load_cycle(conn, 1, 10)).unwrap();
        let failed = with_deferred(conn, &catalog, deferral, |conn| {
            load_cycle(conn, 2, 20)?;
            conn.batch_execute("INSERT INTO d_departments (id, head_id) VALUES (3, 99)")?;
            Ok::<_, fk_safe::Error>(())
        });
        let violation = failed.as_ref().err().and_then(DeferredError::as_violation);
        assert!(violation.is_some(), "{failed:?}");
        assert_eq!(
            violation.unwrap().key_values(),
            Some(&[Some("99".to_string())][..])
        );
        assert!(in_transaction(conn), "the caller's transaction stays open");
        assert_eq!(rows(conn, "d_departments"), 1);
        // A panic in the work rolls back its savepoint only.
        let panicked = panic::catch_unwind(AssertUnwindSafe(|| {
            let _ = with_deferred(conn, &catalog, deferral, |conn| {
                load_cycle(conn, 6, 60)?;
                if rows(conn, "d_departments") == 2 {
                    panic!("the work panics halfway");
                }
                Ok::<_, fk_safe::Error>(())
            });
        }));
        assert!(panicked.is_err());
        assert!(in_transaction(conn), "the caller's transaction stays open");
        assert_eq!(rows(conn, "d_departments"), 1);
        // Immediate again: a statement that breaks the key fails at once
        // (inside a savepoint of the caller's, so that it can go on).
        let lone = conn.transaction(|conn| {
            conn.batch_execute("INSERT INTO d_departments (id, head_id) VALUES (5, 50)")
        });
        assert!(lone.is_err(), "the key was left deferred for the caller");
        Ok::<_, diesel::result::Error>(())
    })
    .unwrap();
    assert_eq!(rows(conn, "d_departments"), 1);
    assert_eq!(rows(conn, "d_heads"), 1);
}

common::on_both_backends! {
    a_mutual_cycle_loads_deferred => {
        postgres: (pg::CYCLE, pg::all_deferrable),
        sqlite: (sq::CYCLE, sq::all),
    },
    a_broken_key_is_explained_before_commit => {
        postgres: (pg::CYCLE, pg::both_keys),
        sqlite: (sq::CYCLE, sq::all),
    },
    a_deleted_parent_is_explained => {
        postgres: (pg::CYCLE, pg::both_keys),
        sqlite: (sq::CYCLE, sq::all),
    },
    failing_and_panicking_work_roll_back => {
        postgres: (pg::CYCLE, pg::both_keys),
        sqlite: (sq::CYCLE, sq::all),
    },
    inside_a_callers_transaction => {
        postgres: (pg::CYCLE, pg::both_keys),
        sqlite: (sq::CYCLE, sq::all),
    },
}

#[cfg(feature = "postgres")]
mod pg {
    use super::*;
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    /// The cycle, both keys `DEFERRABLE INITIALLY IMMEDIATE`.
    pub const CYCLE: &str = "
        CREATE TABLE d_departments (id BIGINT PRIMARY KEY, head_id BIGINT NOT NULL);
        CREATE TABLE d_heads (id BIGINT PRIMARY KEY, department_id BIGINT NOT NULL
            CONSTRAINT d_heads_department_fk REFERENCES d_departments (id)
            DEFERRABLE INITIALLY IMMEDIATE);
        ALTER TABLE d_departments ADD CONSTRAINT d_departments_head_fk
            FOREIGN KEY (head_id) REFERENCES d_heads (id) DEFERRABLE INITIALLY IMMEDIATE;";

    /// Both keys of the cycle, by their names in the test's schema (other
    /// tests' schemas hold the same names).
    pub fn both_keys(conn: &mut PgConnection) -> Deferral {
        let schema = schema(conn);
        Deferral::constraint_in(&schema, "d_departments_head_fk")
            .and_in(schema, "d_heads_department_fk")
    }

    /// Every deferrable key of the database (other tests' schemas hold NOT
    /// DEFERRABLE ones).
    pub fn all_deferrable(_conn: &mut PgConnection) -> Deferral {
        Deferral::all_deferrable()
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

    pub use common::pg::DropSchema;
}

#[cfg(feature = "sqlite")]
mod sq {
    use diesel::SqliteConnection;
    use fk_safe::integrity::deferred::Deferral;

    /// Every key: SQLite defers all or none.
    pub fn all(_conn: &mut SqliteConnection) -> Deferral {
        Deferral::all()
    }

    /// The cycle: SQLite accepts a key to a table created after it.
    pub const CYCLE: &str = "
        CREATE TABLE d_departments (id INTEGER PRIMARY KEY,
            head_id BIGINT NOT NULL REFERENCES d_heads (id));
        CREATE TABLE d_heads (id INTEGER PRIMARY KEY,
            department_id BIGINT NOT NULL REFERENCES d_departments (id));";
}

/// What only PostgreSQL has: constraint names, `NOT DEFERRABLE`, schemas.
#[cfg(feature = "postgres")]
mod postgres_facts {
    use super::pg::{schema, DropSchema};
    use super::*;
    use common::StatementCounter;
    use diesel::connection::SimpleConnection;
    use diesel::PgConnection;

    /// The cycle with its departments' key `NOT DEFERRABLE`.
    const STIFF_CYCLE: &str = "
        CREATE TABLE d_departments (id BIGINT PRIMARY KEY, head_id BIGINT NOT NULL);
        CREATE TABLE d_heads (id BIGINT PRIMARY KEY, department_id BIGINT NOT NULL
            CONSTRAINT d_heads_department_fk REFERENCES d_departments (id)
            DEFERRABLE INITIALLY IMMEDIATE);
        ALTER TABLE d_departments ADD CONSTRAINT d_departments_head_fk
            FOREIGN KEY (head_id) REFERENCES d_heads (id);";

    /// A key that cannot be deferred is refused before any statement but
    /// the catalog's runs, the work never runs, and the refusal carries the
    /// statement that makes the key deferrable; run, that statement lets the
    /// same load through.
    fn a_key_that_cannot_be_deferred_is_refused(conn: &mut PgConnection) {
        run(conn, STIFF_CYCLE);
        let schema = schema(conn);
        let catalog = FkCatalog::new();
        let expected = format!(
            "ALTER TABLE {}.\"d_departments\" ALTER CONSTRAINT \"d_departments_head_fk\" DEFERRABLE INITIALLY IMMEDIATE;",
            quoted(&schema)
        );
        let counter = StatementCounter::default();
        conn.set_instrumentation(counter.clone());
        let mut ran = false;
        let refused = with_deferred(
            conn,
            &catalog,
            &Deferral::constraint_in(&schema, "d_departments_head_fk")
                .and_in(&schema, "d_heads_department_fk"),
            |conn| {
                ran = true;
                load_cycle(conn, 1, 10)
            },
        );
        assert!(!ran, "the work ran");
        assert_eq!(
            counter.count(),
            0,
            "statements other than catalog reads ran"
        );
        let Err(DeferredError::NotDeferrable { keys, every_key }) = &refused else {
            panic!("a refusal expected: {refused:?}")
        };
        assert!(!every_key);
        assert_eq!(keys.len(), 1, "{keys:#?}");
        assert_eq!(keys[0].foreign_key.table, "d_departments");
        assert_eq!(keys[0].statement, expected);
        let text = refused.as_ref().unwrap_err().to_string();
        assert!(text.contains(&expected), "{text}");
        assert_eq!(rows(conn, "d_departments"), 0);

        // Deferring every key is refused for the same key (and for every
        // other NOT DEFERRABLE key of the database).
        let all = with_deferred(conn, &catalog, &Deferral::all(), |conn| {
            load_cycle(conn, 1, 10)
        });
        let Err(DeferredError::NotDeferrable { keys, every_key }) = &all else {
            panic!("a refusal expected: {all:?}")
        };
        assert!(every_key);
        assert!(keys.iter().any(|k| k.statement == expected), "{keys:#?}");
        assert!(all
            .unwrap_err()
            .to_string()
            .contains("Deferral::all_deferrable()"));
        // One statement: the count of rows above.
        assert_eq!(counter.count(), 1);

        // The statement works, and the load goes through once it ran.
        run(conn, &expected);
        with_deferred(
            conn,
            &catalog,
            &Deferral::constraint_in(&schema, "d_departments_head_fk")
                .and_in(&schema, "d_heads_department_fk"),
            |conn| load_cycle(conn, 1, 10),
        )
        .unwrap();
        assert_eq!(rows(conn, "d_departments"), 1);
    }

    /// Only the deferrable keys: the stiff one stays immediate, on request.
    fn only_the_deferrable_keys_on_request(conn: &mut PgConnection) {
        run(conn, STIFF_CYCLE);
        let catalog = FkCatalog::new();
        // Heads first: their key waits, the departments' key holds at once.
        with_deferred(conn, &catalog, &Deferral::all_deferrable(), |conn| {
            conn.batch_execute(
                "INSERT INTO d_heads (id, department_id) VALUES (10, 1);
                 INSERT INTO d_departments (id, head_id) VALUES (1, 10)",
            )
        })
        .unwrap();
        let stiff = with_deferred(conn, &catalog, &Deferral::all_deferrable(), |conn| {
            conn.batch_execute("INSERT INTO d_departments (id, head_id) VALUES (2, 20)")
        });
        assert!(matches!(stiff, Err(DeferredError::Work(_))), "{stiff:?}");
        assert_eq!(rows(conn, "d_departments"), 1);
        // Named beside them, the stiff key is refused, and an unknown name
        // is not swallowed by "all".
        let schema = schema(conn);
        let named = with_deferred(
            conn,
            &catalog,
            &Deferral::all_deferrable().and_in(&schema, "d_departments_head_fk"),
            |_| Ok::<_, fk_safe::Error>(()),
        );
        let Err(DeferredError::NotDeferrable { keys, every_key }) = &named else {
            panic!("{named:?}")
        };
        assert!(!every_key);
        assert_eq!(keys.len(), 1);
        let unknown = with_deferred(
            conn,
            &catalog,
            &Deferral::all_deferrable().and_in(&schema, "no_such_fk"),
            |_| Ok::<_, fk_safe::Error>(()),
        );
        assert!(
            matches!(unknown, Err(DeferredError::UnknownConstraints { .. })),
            "{unknown:?}"
        );
    }

    /// A name that matches nothing, and one held by two schemas, are
    /// refused; qualified, the second is chosen in its schema only.
    fn unknown_and_ambiguous_names(conn: &mut PgConnection) {
        let schema = schema(conn);
        let other = DropSchema(common::unique_name("fk_safe_other"));
        // A name no other test uses, in this test's schema and another.
        let name = common::unique_name("d_fk");
        run(
            conn,
            &format!(
                "CREATE TABLE d_heads (id BIGINT PRIMARY KEY);
                 CREATE TABLE d_departments (id BIGINT PRIMARY KEY, head_id BIGINT
                     CONSTRAINT {n} REFERENCES d_heads (id) DEFERRABLE);
                 CREATE SCHEMA {o};
                 CREATE TABLE {o}.d_heads (id BIGINT PRIMARY KEY);
                 CREATE TABLE {o}.d_departments (id BIGINT PRIMARY KEY, head_id BIGINT
                     CONSTRAINT {n} REFERENCES {o}.d_heads (id));",
                n = quoted(&name),
                o = quoted(&other.0)
            ),
        );
        let catalog = FkCatalog::new();
        let mut ran = false;
        let unknown = with_deferred(conn, &catalog, &Deferral::constraint("no_such_fk"), |_| {
            ran = true;
            Ok::<_, fk_safe::Error>(())
        });
        assert!(!ran);
        let Err(DeferredError::UnknownConstraints { names }) = &unknown else {
            panic!("{unknown:?}")
        };
        assert_eq!(names[0].name, "no_such_fk");
        // Known, but not in the schema named.
        let elsewhere = with_deferred(
            conn,
            &catalog,
            &Deferral::constraint_in(format!("{schema}_not"), &name),
            |_| Ok::<_, fk_safe::Error>(()),
        );
        assert!(
            matches!(elsewhere, Err(DeferredError::UnknownConstraints { .. })),
            "{elsewhere:?}"
        );

        let ambiguous = with_deferred(conn, &catalog, &Deferral::constraint(&name), |_| {
            ran = true;
            Ok::<_, fk_safe::Error>(())
        });
        assert!(!ran);
        let Err(DeferredError::AmbiguousConstraints { ambiguous: found }) = &ambiguous else {
            panic!("{ambiguous:?}")
        };
        let mut expected = vec![schema.clone(), other.0.clone()];
        expected.sort();
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].name, name);
        assert_eq!(found[0].schemas, expected);

        // Qualified, it is ours, deferred; the other schema's is NOT
        // DEFERRABLE, and refused.
        with_deferred(
            conn,
            &catalog,
            &Deferral::constraint_in(&schema, &name),
            |conn| {
                conn.batch_execute(
                    "INSERT INTO d_departments (id, head_id) VALUES (1, 10);
                 INSERT INTO d_heads (id) VALUES (10)",
                )
            },
        )
        .unwrap();
        let theirs = with_deferred(
            conn,
            &catalog,
            &Deferral::constraint_in(&other.0, &name),
            |_| Ok::<_, fk_safe::Error>(()),
        );
        assert!(
            matches!(theirs, Err(DeferredError::NotDeferrable { .. })),
            "{theirs:?}"
        );
    }

    /// Schema, table, column and constraint names with quotes, spaces,
    /// semicolons, comment marks and non-ASCII letters: deferred by their
    /// quoted names, explained, and the refusal's statement runs as given.
    fn hostile_identifiers(conn: &mut PgConnection) {
        let suffix = common::unique_name("");
        let hostile = DropSchema(format!("Wér \"da\"; DROP SCHEMA public; --{suffix}"));
        let s = quoted(&hostile.0);
        let parents = "Eltern \"Ä\"; --";
        let children = "Kinder; DROP TABLE x";
        let back = "zurück \"fk\"; --";
        let forth = "hin; SELECT 1";
        run(
            conn,
            &format!(
                "CREATE SCHEMA {s};
                 CREATE TABLE {s}.{p} (id BIGINT PRIMARY KEY, {col} BIGINT NOT NULL);
                 CREATE TABLE {s}.{c} (id BIGINT PRIMARY KEY, parent_id BIGINT NOT NULL
                     CONSTRAINT {forth} REFERENCES {s}.{p} (id) DEFERRABLE);
                 ALTER TABLE {s}.{p} ADD CONSTRAINT {back} FOREIGN KEY ({col}) REFERENCES {s}.{c} (id);",
                p = quoted(parents),
                c = quoted(children),
                col = quoted("Kind ID"),
                forth = quoted(forth),
                back = quoted(back),
            ),
        );
        let catalog = FkCatalog::new();
        let both = Deferral::constraint_in(&hostile.0, back).and_in(&hostile.0, forth);
        let load = |conn: &mut PgConnection, parent: i64, child: i64| {
            conn.batch_execute(&format!(
                "INSERT INTO {s}.{p} VALUES ({parent}, {child});
                 INSERT INTO {s}.{c} VALUES ({child}, {parent})",
                p = quoted(parents),
                c = quoted(children),
            ))
        };
        let refused = with_deferred(conn, &catalog, &both, |conn| load(conn, 1, 10));
        let Err(DeferredError::NotDeferrable { keys, .. }) = refused else {
            panic!("{refused:?}")
        };
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].foreign_key.name.as_deref(), Some(back));
        run(conn, &keys[0].statement);
        with_deferred(conn, &catalog, &both, |conn| load(conn, 1, 10)).unwrap();
        let failed = with_deferred(conn, &catalog, &both, |conn| {
            conn.batch_execute(&format!(
                "INSERT INTO {s}.{} VALUES (2, 99)",
                quoted(parents)
            ))
        });
        let Err(DeferredError::Violation { violation, .. }) = failed else {
            panic!("{failed:?}")
        };
        assert_eq!(violation.schema(), Some(hostile.0.as_str()));
        assert_eq!(violation.child_table(), Some(parents));
        assert_eq!(violation.child_columns(), ["Kind ID"]);
        assert_eq!(violation.parent_table(), Some(children));
        assert_eq!(violation.constraint(), Some(back));
        assert_eq!(violation.key_values(), Some(&[Some("99".to_string())][..]));
        // Nothing was injected.
        run(conn, "SELECT 'public'::regnamespace");
        assert_eq!(
            common::count(
                conn,
                &format!("SELECT COUNT(*) AS n FROM {s}.{}", quoted(parents))
            ),
            1
        );
    }

    /// A key declared `INITIALLY DEFERRED` and not chosen is checked only at
    /// `COMMIT`: that failure is explained too, and nothing is committed.
    fn an_unchosen_initially_deferred_key_fails_at_commit(conn: &mut PgConnection) {
        run(
            conn,
            "CREATE TABLE d_heads (id BIGINT PRIMARY KEY);
             CREATE TABLE d_departments (id BIGINT PRIMARY KEY, head_id BIGINT
                 CONSTRAINT d_late_fk REFERENCES d_heads (id) DEFERRABLE INITIALLY DEFERRED);
             CREATE TABLE d_rooms (id BIGINT PRIMARY KEY, head_id BIGINT
                 CONSTRAINT d_rooms_fk REFERENCES d_heads (id) DEFERRABLE);",
        );
        let schema = schema(conn);
        let failed = with_deferred(
            conn,
            &FkCatalog::new(),
            &Deferral::constraint_in(&schema, "d_rooms_fk"),
            |conn| conn.batch_execute("INSERT INTO d_departments (id, head_id) VALUES (1, 99)"),
        );
        let Err(DeferredError::Violation { violation, .. }) = &failed else {
            panic!("{failed:?}")
        };
        assert_eq!(violation.constraint(), Some("d_late_fk"));
        assert_eq!(violation.child_columns(), ["head_id"]);
        assert_eq!(violation.parent_table(), Some("d_heads"));
        assert_eq!(violation.key_values(), Some(&[Some("99".to_string())][..]));
        assert_eq!(rows(conn, "d_departments"), 0);
    }

    /// One name on two tables of one schema: `SET CONSTRAINTS` takes both,
    /// so both are checked for deferrability and both are deferred.
    fn one_name_on_two_tables_of_a_schema(conn: &mut PgConnection) {
        run(
            conn,
            "CREATE TABLE d_heads (id BIGINT PRIMARY KEY);
             CREATE TABLE d_a (id BIGINT PRIMARY KEY, head_id BIGINT
                 CONSTRAINT d_twin_fk REFERENCES d_heads (id) DEFERRABLE);
             CREATE TABLE d_b (id BIGINT PRIMARY KEY, head_id BIGINT
                 CONSTRAINT d_twin_fk REFERENCES d_heads (id));",
        );
        let schema = schema(conn);
        let catalog = FkCatalog::new();
        let twins = Deferral::constraint_in(&schema, "d_twin_fk");
        let refused = with_deferred(conn, &catalog, &twins, |_| Ok::<_, fk_safe::Error>(()));
        let Err(DeferredError::NotDeferrable { keys, .. }) = &refused else {
            panic!("{refused:?}")
        };
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].foreign_key.table, "d_b");
        run(conn, &keys[0].statement);
        with_deferred(conn, &catalog, &twins, |conn| {
            conn.batch_execute(
                "INSERT INTO d_a VALUES (1, 10); INSERT INTO d_b VALUES (1, 10);
                 INSERT INTO d_heads VALUES (10)",
            )
        })
        .unwrap();
        assert_eq!(rows(conn, "d_b"), 1);
    }

    common::on_postgres! {
        a_key_that_cannot_be_deferred_is_refused,
        one_name_on_two_tables_of_a_schema,
        an_unchosen_initially_deferred_key_fails_at_commit,
        only_the_deferrable_keys_on_request,
        unknown_and_ambiguous_names,
        hostile_identifiers,
    }
}

/// What only SQLite has: no constraint names, `PRAGMA foreign_keys`,
/// `PRAGMA foreign_key_check` over rows broken before the work.
#[cfg(feature = "sqlite")]
mod sqlite_facts {
    use super::sq::CYCLE;
    use super::*;
    use diesel::connection::SimpleConnection;
    use diesel::SqliteConnection;

    /// Naming a constraint is refused: SQLite keeps no names, and
    /// ignoring the name would defer every key instead.
    fn naming_a_key_is_refused(conn: &mut SqliteConnection) {
        run(conn, CYCLE);
        let mut ran = false;
        let named = with_deferred(
            conn,
            &FkCatalog::new(),
            &Deferral::constraint("any"),
            |_| {
                ran = true;
                Ok::<_, fk_safe::Error>(())
            },
        );
        assert!(!ran);
        assert!(
            matches!(named, Err(DeferredError::UnnamedConstraints { .. })),
            "{named:?}"
        );
    }

    /// With foreign keys off on the connection, deferring means nothing:
    /// refused before the work runs.
    fn foreign_keys_off_is_refused(conn: &mut SqliteConnection) {
        run(conn, CYCLE);
        run(conn, "PRAGMA foreign_keys = OFF");
        let mut ran = false;
        let off = with_deferred(conn, &FkCatalog::new(), &Deferral::all(), |conn| {
            ran = true;
            load_cycle(conn, 1, 10)
        });
        assert!(!ran);
        assert!(matches!(off, Err(DeferredError::ForeignKeysOff)), "{off:?}");
        assert_eq!(rows(conn, "d_departments"), 0);
    }

    /// Rows broken before the work (written with the checks off) are not
    /// held against a clean load; a new broken row is, and counted apart.
    fn rows_broken_before_are_not_the_works(conn: &mut SqliteConnection) {
        run(conn, CYCLE);
        run(
            conn,
            "PRAGMA foreign_keys = OFF;
             INSERT INTO d_departments (id, head_id) VALUES (7, 77);
             PRAGMA foreign_keys = ON",
        );
        let catalog = FkCatalog::new();
        with_deferred(conn, &catalog, &Deferral::all(), |conn| {
            load_cycle(conn, 1, 10)
        })
        .unwrap();
        assert_eq!(rows(conn, "d_departments"), 2);
        let failed = with_deferred(conn, &catalog, &Deferral::all(), |conn| {
            conn.batch_execute(
                "INSERT INTO d_departments (id, head_id) VALUES (2, 98);
                 INSERT INTO d_departments (id, head_id) VALUES (3, 99)",
            )
        });
        let Err(DeferredError::Violation {
            violation,
            rows: counted,
        }) = &failed
        else {
            panic!("{failed:?}")
        };
        assert_eq!(*counted, Some(2));
        assert_eq!(violation.child_table(), Some("d_departments"));
        assert!(
            failed
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("2 rows break"),
            "{failed:?}"
        );
        assert_eq!(rows(conn, "d_departments"), 2);
        // A row broken before whose key the work changes is the work's.
        let repointed = with_deferred(conn, &catalog, &Deferral::all(), |conn| {
            conn.batch_execute("UPDATE d_departments SET head_id = 78 WHERE id = 7")
        });
        let Err(DeferredError::Violation {
            violation,
            rows: counted,
        }) = &repointed
        else {
            panic!("{repointed:?}")
        };
        assert_eq!(*counted, Some(1));
        assert_eq!(violation.kind(), ViolationKind::MissingParent);
        assert_eq!(violation.key_values(), Some(&[Some("78".to_string())][..]));
    }

    /// Hostile table and column names, quoted in every statement.
    fn hostile_identifiers(conn: &mut SqliteConnection) {
        let parents = "Eltern \"Ä\"; --";
        let children = "Kinder; DROP TABLE d_x";
        run(conn, "CREATE TABLE d_x (id INTEGER PRIMARY KEY)");
        run(
            conn,
            &format!(
                "CREATE TABLE {p} (id INTEGER PRIMARY KEY, {col} BIGINT NOT NULL REFERENCES {c} (id));
                 CREATE TABLE {c} (id INTEGER PRIMARY KEY, parent_id BIGINT NOT NULL REFERENCES {p} (id));",
                p = quoted(parents),
                c = quoted(children),
                col = quoted("Kind ID"),
            ),
        );
        let catalog = FkCatalog::new();
        with_deferred(conn, &catalog, &Deferral::all(), |conn| {
            conn.batch_execute(&format!(
                "INSERT INTO {p} VALUES (1, 10); INSERT INTO {c} VALUES (10, 1)",
                p = quoted(parents),
                c = quoted(children),
            ))
        })
        .unwrap();
        let failed = with_deferred(conn, &catalog, &Deferral::all(), |conn| {
            conn.batch_execute(&format!("INSERT INTO {} VALUES (2, 99)", quoted(parents)))
        });
        let Err(DeferredError::Violation { violation, .. }) = failed else {
            panic!("{failed:?}")
        };
        assert_eq!(violation.child_table(), Some(parents));
        assert_eq!(violation.child_columns(), ["Kind ID"]);
        assert_eq!(violation.parent_table(), Some(children));
        assert_eq!(violation.key_values(), Some(&[Some("99".to_string())][..]));
        assert_eq!(rows(conn, "d_x"), 0);
    }

    /// A caller that deferred the keys itself keeps what SQLite counted:
    /// with_deferred leaves the pragma alone, so the caller's own broken row
    /// still fails the caller's COMMIT, while the work's clean load passes.
    fn a_callers_own_deferral_is_left_alone(conn: &mut SqliteConnection) {
        run(conn, CYCLE);
        let catalog = FkCatalog::new();
        let outcome = conn.transaction(|conn| {
            conn.batch_execute(
                "PRAGMA defer_foreign_keys = ON;
                 INSERT INTO d_departments (id, head_id) VALUES (7, 77)",
            )?;
            with_deferred(conn, &catalog, &Deferral::all(), |conn| {
                load_cycle(conn, 1, 10)
            })
            .unwrap();
            Ok::<_, diesel::result::Error>(())
        });
        assert!(outcome.is_err(), "the caller's broken row was forgotten");
        assert_eq!(rows(conn, "d_departments"), 0);
    }

    /// The pragma defers the keys of every database of the connection, so
    /// every one is checked: a broken row of a temporary table is found
    /// before commit, and named with its schema.
    fn temporary_tables_are_checked_too(conn: &mut SqliteConnection) {
        run(
            conn,
            "CREATE TEMP TABLE d_temp_parents (id INTEGER PRIMARY KEY);
             CREATE TEMP TABLE d_temp_children (id INTEGER PRIMARY KEY,
                 parent_id BIGINT REFERENCES d_temp_parents (id));",
        );
        let failed = with_deferred(conn, &FkCatalog::new(), &Deferral::all(), |conn| {
            conn.batch_execute("INSERT INTO d_temp_children (id, parent_id) VALUES (1, 99)")
        });
        let Err(DeferredError::Violation {
            violation,
            rows: counted,
        }) = &failed
        else {
            panic!("{failed:?}")
        };
        assert_eq!(violation.schema(), Some("temp"), "{violation}");
        assert_eq!(violation.child_table(), Some("d_temp_children"));
        assert_eq!(*counted, Some(1));
        assert_eq!(rows(conn, "d_temp_children"), 0);
    }

    common::on_sqlite! {
        naming_a_key_is_refused,
        temporary_tables_are_checked_too,
        a_callers_own_deferral_is_left_alone,
        foreign_keys_off_is_refused,
        rows_broken_before_are_not_the_works,
        hostile_identifiers,
    }
}

//! FkViolation on bundled SQLite: every test in its own database file.
#![cfg(feature = "sqlite")]

mod common;

use common::sqlite::SqliteDb;
use common::violations::{seed_customer_with_order, sql, values, violation_of};
use diesel::prelude::*;
use fk_safe::{Database, Error, FkAction, FkCatalog, FkConnection, ViolationKind};
use fk_safe_suite::schema::*;

fn a_bare_error_is_classified_without_io(conn: &mut SqliteConnection) {
    let raw = diesel::insert_into(orders::table)
        .values(orders::customer_id.eq(999))
        .execute(conn)
        .unwrap_err();
    let Error::ForeignKey(v) = Error::from(raw) else {
        panic!("not classified");
    };
    assert_eq!(v.database(), Database::Sqlite);
    // 787 is raised for both directions and names nothing.
    assert_eq!(v.kind(), ViolationKind::Undetermined);
    assert_eq!(v.child_table(), None);
    assert!(v.to_string().contains("FkCatalog::transaction"), "{v}");
}

fn deferred_constraint_fails_at_commit(conn: &mut SqliteConnection) {
    // The bare failure comes from COMMIT, not from the INSERT.
    let raw = conn
        .transaction::<(), diesel::result::Error, _>(|c| {
            diesel::insert_into(departments::table)
                .values((
                    departments::name.eq("R&D"),
                    departments::head_employee_id.eq(555),
                ))
                .execute(c)?;
            Ok(())
        })
        .unwrap_err();
    assert!(Error::from(raw).as_violation().is_some());

    let v = violation_of(conn, |c| {
        diesel::insert_into(departments::table)
            .values((
                departments::name.eq("R&D"),
                departments::head_employee_id.eq(555),
            ))
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.kind(), ViolationKind::MissingParent);
    assert_eq!(v.child_table(), Some("departments"));
    assert_eq!(v.child_columns(), ["head_employee_id"]);
    assert_eq!(v.parent_table(), Some("employees"));
    assert_eq!(values(&v), Some(vec![Some("555")]));
    let departments: i64 = departments::table.count().get_result(conn).unwrap();
    assert_eq!(departments, 0);
}

fn restrict_is_still_referenced(conn: &mut SqliteConnection) {
    seed_customer_with_order(conn);
    sql(
        conn,
        "INSERT INTO products (id, sku, name, price_cents) VALUES (7, 'P7', 'Pen', 100)",
    );
    sql(
        conn,
        "INSERT INTO order_items (order_id, product_id, quantity) VALUES (10, 7, 1)",
    );
    let raw = diesel::delete(products::table.find(7))
        .execute(conn)
        .unwrap_err();
    // Diesel 2.3 reports SQLite's 1811 as Unknown; it is still ours.
    assert!(matches!(
        raw,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::Unknown, _)
    ));
    let catalog = FkCatalog::new();
    let Error::ForeignKey(v) = catalog.explain(conn, raw) else {
        panic!("not classified");
    };
    assert_eq!(v.kind(), ViolationKind::StillReferenced);
    // The schema has exactly one RESTRICT key, so it is the one.
    assert_eq!(v.child_table(), Some("order_items"));
    assert_eq!(v.parent_table(), Some("products"));
    assert_eq!(v.on_delete(), Some(FkAction::Restrict));
}

fn restrict_among_several_is_not_guessed_but_replay_finds_it(conn: &mut SqliteConnection) {
    seed_customer_with_order(conn);
    sql(conn, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer_id BIGINT REFERENCES customers (id) ON DELETE RESTRICT)");
    sql(
        conn,
        "INSERT INTO products (id, sku, name, price_cents) VALUES (7, 'P7', 'Pen', 100)",
    );
    sql(
        conn,
        "INSERT INTO order_items (order_id, product_id, quantity) VALUES (10, 7, 1)",
    );

    let raw = diesel::delete(products::table.find(7))
        .execute(conn)
        .unwrap_err();
    let bare = FkCatalog::new().explain(conn, raw);
    let bare = bare.as_violation().unwrap();
    assert_eq!(bare.kind(), ViolationKind::StillReferenced);
    assert_eq!(bare.child_table(), None, "two RESTRICT keys: no guess");

    // Deferring suspends RESTRICT too, so the replay sees the real orphan.
    let v = violation_of(conn, |c| {
        diesel::delete(products::table.find(7))
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.kind(), ViolationKind::StillReferenced);
    assert_eq!(v.child_table(), Some("order_items"));
    assert_eq!(v.child_columns(), ["product_id"]);
    assert_eq!(values(&v), Some(vec![Some("7")]));
    assert_eq!(products::table.count().get_result::<i64>(conn).unwrap(), 1);
}

fn pre_existing_orphans_are_not_blamed(conn: &mut SqliteConnection) {
    // An orphan written while enforcement was off.
    sql(conn, "PRAGMA foreign_keys = OFF");
    sql(conn, "INSERT INTO orders (id, customer_id) VALUES (1, 500)");
    sql(conn, "PRAGMA foreign_keys = ON");
    let v = violation_of(conn, |c| {
        diesel::insert_into(employees::table)
            .values((employees::name.eq("Bob"), employees::manager_id.eq(77)))
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.child_table(), Some("employees"));
    assert_eq!(values(&v), Some(vec![Some("77")]));
}

fn nested_in_the_callers_transaction(conn: &mut SqliteConnection) {
    let catalog = FkCatalog::new();
    conn.transaction::<_, Error, _>(|c| {
        sql(c, "INSERT INTO customers (id, email, name) VALUES (1, 'kept@example.com', 'Kept')");
        let failed = catalog.transaction(c, |c| {
            sql(c, "INSERT INTO customers (id, email, name) VALUES (2, 'dropped@example.com', 'Dropped')");
            diesel::insert_into(orders::table)
                .values(orders::customer_id.eq(999))
                .execute(c)?;
            Ok(())
        });
        let failed = failed.unwrap_err();
        let v = failed.as_violation().unwrap();
        assert_eq!(v.kind(), ViolationKind::MissingParent);
        assert_eq!(values(v), Some(vec![Some("999")]));
        let emails: Vec<String> = customers::table.select(customers::email).load(c)?;
        assert_eq!(emails, ["kept@example.com"]);
        // Constraints are immediate again for the rest of the caller's work.
        let raw = diesel::insert_into(orders::table)
            .values(orders::customer_id.eq(998))
            .execute(c);
        assert!(raw.is_err(), "the caller's constraints must stay immediate");
        Ok(())
    })
    .unwrap();
    let emails: Vec<String> = customers::table
        .select(customers::email)
        .load(conn)
        .unwrap();
    assert_eq!(emails, ["kept@example.com"]);
}

fn successful_work_runs_once_and_commits(conn: &mut SqliteConnection) {
    let mut runs = 0;
    let id = FkCatalog::new()
        .transaction(conn, |c| {
            runs += 1;
            let id: i64 = diesel::insert_into(customers::table)
                .values((
                    customers::email.eq("a@example.com"),
                    customers::name.eq("A"),
                ))
                .returning(customers::id)
                .get_result(c)?;
            Ok(id)
        })
        .unwrap();
    assert_eq!(runs, 1);
    assert_eq!(
        customers::table
            .find(id)
            .count()
            .get_result::<i64>(conn)
            .unwrap(),
        1
    );
}

fn enforcing_inside_a_transaction_is_an_error(conn: &mut SqliteConnection) {
    sql(conn, "PRAGMA foreign_keys = OFF");
    let result = conn.transaction::<_, diesel::result::Error, _>(|c| c.enforce_foreign_keys());
    let message = result.unwrap_err().to_string();
    assert!(message.contains("inside a transaction"), "{message}");
}

fn several_broken_keys_are_not_guessed_between(conn: &mut SqliteConnection) {
    seed_customer_with_order(conn);
    let v = violation_of(conn, |c| {
        // The first statement fails; the replay runs past it into the second.
        diesel::sql_query("INSERT INTO orders (customer_id) VALUES (999)").execute(c)?;
        diesel::sql_query(
            "INSERT INTO order_items (order_id, product_id, quantity) VALUES (10, 555, 1)",
        )
        .execute(c)?;
        Ok(())
    });
    assert_eq!(v.child_table(), None);
    let note = v.note().expect("why nothing is named");
    assert!(note.contains("2 foreign keys"), "{note}");
    assert!(
        note.contains("orders.(customer_id)") && note.contains("order_items.(product_id)"),
        "{note}"
    );
    assert!(v.to_string().contains("SQLite does not say"), "{v}");
}

fn a_child_written_before_its_parent_is_explained(conn: &mut SqliteConnection) {
    let v = violation_of(conn, |c| {
        diesel::sql_query("INSERT INTO orders (customer_id) VALUES (5)").execute(c)?;
        diesel::sql_query(
            "INSERT INTO customers (id, email, name) VALUES (5, 'late@example.com', 'Late')",
        )
        .execute(c)?;
        Ok(())
    });
    assert_eq!(v.child_table(), None);
    let text = v.to_string();
    assert!(text.contains("child written before its parent"), "{text}");
    assert!(
        !text.contains("run the write through FkCatalog::transaction"),
        "{text}"
    );
}

fn a_column_named_rowid_does_not_hide_the_row(conn: &mut SqliteConnection) {
    sql(
        conn,
        "CREATE TABLE legacy_orders (rowid INTEGER, customer_id BIGINT REFERENCES customers (id))",
    );
    sql(
        conn,
        "INSERT INTO customers (id, email, name) VALUES (1, 'a@example.com', 'A')",
    );
    sql(conn, "INSERT INTO legacy_orders VALUES (2, 1)");
    let v = violation_of(conn, |c| {
        diesel::sql_query("INSERT INTO legacy_orders VALUES (7, 999)").execute(c)?;
        Ok(())
    });
    assert_eq!(v.kind(), ViolationKind::MissingParent);
    assert_eq!(v.child_table(), Some("legacy_orders"));
    assert_eq!(values(&v), Some(vec![Some("999")]));
}

fn flag(conn: &mut SqliteConnection, pragma: &str) -> i64 {
    #[derive(QueryableByName)]
    struct Flag {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        flag: i64,
    }
    diesel::sql_query(format!("SELECT {pragma} AS flag FROM pragma_{pragma}"))
        .get_result::<Flag>(conn)
        .unwrap()
        .flag
}

fn insert_orphan_order(conn: &mut SqliteConnection) -> Result<(), Error> {
    diesel::insert_into(orders::table)
        .values(orders::customer_id.eq(999))
        .execute(conn)?;
    Ok(())
}

fn a_replay_that_fails_says_why_and_invents_no_cause(conn: &mut SqliteConnection) {
    let mut runs = 0;
    let v = violation_of(conn, |c| {
        runs += 1;
        if runs == 2 {
            diesel::sql_query("INSERT INTO no_such_table VALUES (1)").execute(c)?;
        }
        insert_orphan_order(c)
    });
    assert_eq!(runs, 2);
    assert_eq!(v.kind(), ViolationKind::Undetermined);
    assert_eq!(v.child_table(), None);
    let note = v.note().expect("the replay's failure is told");
    assert!(note.contains("no such table: no_such_table"), "{note}");
    let text = v.to_string();
    assert!(text.contains("Replaying the work"), "{text}");
    assert!(!text.contains("later statement"), "{text}");
    // The replay's error is not the catalog's.
    assert_eq!(v.catalog_error(), None);
    let orders: i64 = orders::table.count().get_result(conn).unwrap();
    assert_eq!(orders, 0);
}

fn a_replay_failing_on_a_foreign_key_again_names_nothing(conn: &mut SqliteConnection) {
    let mut runs = 0;
    let v = violation_of(conn, |c| {
        runs += 1;
        // Work that checks its keys at once, whatever the caller deferred.
        diesel::sql_query("PRAGMA defer_foreign_keys = OFF").execute(c)?;
        insert_orphan_order(c)
    });
    assert_eq!(runs, 2);
    assert_eq!(v.kind(), ViolationKind::Undetermined);
    assert_eq!(v.child_table(), None);
    let note = v.note().expect("the replay's failure is told");
    assert!(note.contains("foreign key"), "{note}");
    assert!(note.contains("FOREIGN KEY constraint failed"), "{note}");
    assert!(!v.to_string().contains("later statement"), "{v}");
    assert_eq!(flag(conn, "defer_foreign_keys"), 0);
}

fn no_other_writer_gets_in_between_the_failure_and_the_replay(db: &SqliteDb) {
    let mut conn = db.conn();
    // Does not wait for the lock: it either writes at once or fails.
    let mut other = db.conn();
    let mut attempts = Vec::new();
    let mut runs = 0;
    let v = violation_of(&mut conn, |c| {
        runs += 1;
        if runs == 2 {
            // Another session supplies the missing parent just before the
            // replay: were it let in, the replay would see no orphan.
            attempts.push(
                diesel::sql_query(
                    "INSERT INTO customers (id, email, name) VALUES (999, 'late@example.com', 'Late')",
                )
                .execute(&mut other)
                .map_err(|e| e.to_string()),
            );
        }
        insert_orphan_order(c)
    });
    assert_eq!(attempts.len(), 1);
    let refused = attempts[0]
        .as_ref()
        .expect_err("the other session must not write between the failure and the replay");
    assert!(refused.contains("database is locked"), "{refused}");
    assert_eq!(v.kind(), ViolationKind::MissingParent);
    assert_eq!(v.child_table(), Some("orders"));
    assert_eq!(values(&v), Some(vec![Some("999")]));
    let customers: i64 = customers::table.count().get_result(&mut conn).unwrap();
    assert_eq!(customers, 0);
}

fn a_deferred_failure_at_commit_is_explained_without_running_the_work_again(
    conn: &mut SqliteConnection,
) {
    let mut runs = 0;
    let v = violation_of(conn, |c| {
        runs += 1;
        diesel::insert_into(departments::table)
            .values((
                departments::name.eq("R&D"),
                departments::head_employee_id.eq(555),
            ))
            .execute(c)?;
        Ok(())
    });
    assert_eq!(runs, 1, "the rows that broke the key were still there");
    assert_eq!(v.kind(), ViolationKind::MissingParent);
    assert_eq!(v.child_table(), Some("departments"));
    assert_eq!(values(&v), Some(vec![Some("555")]));
    let departments: i64 = departments::table.count().get_result(conn).unwrap();
    assert_eq!(departments, 0);
}

fn after_a_failure_the_connection_is_as_it_was(conn: &mut SqliteConnection) {
    let v = violation_of(conn, insert_orphan_order);
    assert_eq!(v.kind(), ViolationKind::MissingParent);
    assert_eq!(flag(conn, "defer_foreign_keys"), 0);
    // Diesel's transaction state is back at the top: a transaction of the
    // caller's own begins, and constraints are immediate in it.
    conn.immediate_transaction(|c| {
        let raw = diesel::insert_into(orders::table)
            .values(orders::customer_id.eq(998))
            .execute(c);
        assert!(raw.is_err(), "constraints must be immediate again");
        Ok::<_, diesel::result::Error>(())
    })
    .unwrap();
}

fn nested_the_replay_leaves_the_callers_deferral_as_it_was(conn: &mut SqliteConnection) {
    let catalog = FkCatalog::new();
    conn.immediate_transaction::<_, Error, _>(|c| {
        let failed = catalog.transaction(c, insert_orphan_order).unwrap_err();
        assert_eq!(failed.as_violation().unwrap().child_table(), Some("orders"));
        assert_eq!(flag(c, "defer_foreign_keys"), 0);
        sql(c, "PRAGMA defer_foreign_keys = ON");
        // Deferred by the caller: the work does not fail (that is for the
        // caller's COMMIT), and the deferral stays as the caller set it.
        catalog.transaction(c, insert_orphan_order)?;
        assert_eq!(flag(c, "defer_foreign_keys"), 1);
        diesel::delete(orders::table).execute(c)?;
        Ok(())
    })
    .unwrap();
}

fn a_failure_nested_in_an_fk_safe_transaction_is_explained_once_and_the_outer_work_goes_on(
    conn: &mut SqliteConnection,
) {
    let catalog = FkCatalog::new();
    let mut inner_runs = 0;
    let kept = catalog
        .transaction(conn, |c| {
            sql(c, "INSERT INTO customers (id, email, name) VALUES (1, 'kept@example.com', 'Kept')");
            let failed = catalog
                .transaction(c, |c| {
                    inner_runs += 1;
                    sql(c, "INSERT INTO customers (id, email, name) VALUES (2, 'dropped@example.com', 'Dropped')");
                    insert_orphan_order(c)
                })
                .unwrap_err();
            let v = failed.as_violation().unwrap();
            assert_eq!(v.child_table(), Some("orders"));
            assert_eq!(values(v), Some(vec![Some("999")]));
            let emails: Vec<String> = customers::table.select(customers::email).load(c)?;
            Ok(emails)
        })
        .unwrap();
    // Once, and its replay once: the outer work did not fail.
    assert_eq!(inner_runs, 2);
    assert_eq!(kept, ["kept@example.com"]);
    let emails: Vec<String> = customers::table
        .select(customers::email)
        .load(conn)
        .unwrap();
    assert_eq!(emails, ["kept@example.com"]);
}

common::on_sqlite! {
    a_bare_error_is_classified_without_io,
    deferred_constraint_fails_at_commit,
    restrict_is_still_referenced,
    restrict_among_several_is_not_guessed_but_replay_finds_it,
    pre_existing_orphans_are_not_blamed,
    nested_in_the_callers_transaction,
    successful_work_runs_once_and_commits,
    enforcing_inside_a_transaction_is_an_error,
    several_broken_keys_are_not_guessed_between,
    a_child_written_before_its_parent_is_explained,
    a_column_named_rowid_does_not_hide_the_row,
    a_replay_that_fails_says_why_and_invents_no_cause,
    a_replay_failing_on_a_foreign_key_again_names_nothing,
    no_other_writer_gets_in_between_the_failure_and_the_replay with db,
    a_deferred_failure_at_commit_is_explained_without_running_the_work_again,
    after_a_failure_the_connection_is_as_it_was,
    nested_the_replay_leaves_the_callers_deferral_as_it_was,
    a_failure_nested_in_an_fk_safe_transaction_is_explained_once_and_the_outer_work_goes_on,
}

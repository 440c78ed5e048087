//! FkViolation on a real PostgreSQL server: every test in its own schema.
#![cfg(feature = "postgres")]

mod common;

use common::pg::{connect_base, german_or_skip, server_version, PgDb};
use common::violations::{new_customer, new_order, sql, values, violation_of};
use common::StatementCounter;
use diesel::prelude::*;
use fk_safe::{Deferrability, Error, FkAction, FkCatalog, FkViolation, ViolationKind};
use fk_safe_suite::schema::*;

fn restrict_action_is_reported(conn: &mut PgConnection) {
    let alice = new_customer(conn, "alice@example.com");
    let order = new_order(conn, alice);
    sql(
        conn,
        "INSERT INTO products (id, sku, name, price_cents) VALUES (7, 'P7', 'Pen', 100)",
    );
    sql(
        conn,
        &format!("INSERT INTO order_items (order_id, product_id, quantity) VALUES ({order}, 7, 1)"),
    );
    let v = violation_of(conn, |c| {
        diesel::delete(products::table.find(7))
            .execute(c)
            .map_err(Error::from)
    });
    // PostgreSQL up to 17 raises 23503 here; 18 raises 23001. Both are ours.
    assert_eq!(v.kind(), ViolationKind::StillReferenced);
    assert_eq!(v.on_delete(), Some(FkAction::Restrict));
    assert_eq!(v.child_table(), Some("order_items"));
    assert_eq!(values(&v), Some(vec![Some("7")]));
}

fn composite_value_with_separator_is_not_guessed(conn: &mut PgConnection) {
    sql(
        conn,
        "INSERT INTO products (id, sku, name, price_cents) VALUES (1, 'P1', 'Pen', 100)",
    );
    let v = violation_of(conn, |c| {
        diesel::insert_into(stock_levels::table)
            .values((
                stock_levels::tenant_id.eq(7),
                stock_levels::warehouse_code.eq("A, B"),
                stock_levels::product_id.eq(1),
                stock_levels::quantity.eq(3),
            ))
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.kind(), ViolationKind::MissingParent);
    assert_eq!(v.child_columns(), ["tenant_id", "warehouse_code"]);
    // `(7, A, B)` reads two ways; the values are absent rather than wrong.
    assert_eq!(v.key_values(), None);
}

fn null_in_a_composite_key(conn: &mut PgConnection) {
    sql(
        conn,
        "INSERT INTO products (id, sku, name, price_cents) VALUES (1, 'P1', 'Pen', 100)",
    );
    // MATCH SIMPLE (the default): a key with a NULL is not checked at all.
    sql(
        conn,
        "INSERT INTO stock_levels (tenant_id, warehouse_code, product_id, quantity) VALUES (7, NULL, 1, 3)",
    );
    // MATCH FULL rejects a half-NULL key with a DETAIL that has no values.
    sql(conn, "CREATE TABLE strict_stock (tenant_id BIGINT, code TEXT, FOREIGN KEY (tenant_id, code) REFERENCES warehouses (tenant_id, code) MATCH FULL)");
    let v = violation_of(conn, |c| {
        diesel::sql_query("INSERT INTO strict_stock VALUES (7, NULL)")
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.kind(), ViolationKind::MissingParent);
    assert_eq!(v.child_table(), Some("strict_stock"));
    assert_eq!(v.child_columns(), ["tenant_id", "code"]);
    assert_eq!(v.key_values(), None);
    assert!(
        v.to_string().starts_with(
            "strict_stock.(tenant_id, code) mixes NULL and non-NULL values, which MATCH FULL forbids"
        ),
        "{v}"
    );
}

fn deferrable_constraint_fails_at_commit(conn: &mut PgConnection) {
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
    assert_eq!(v.constraint(), Some("departments_head_employee_id_fkey"));
    assert_eq!(v.deferrability(), Some(Deferrability::InitiallyDeferred));
    assert_eq!(values(&v), Some(vec![Some("555")]));
}

fn without_select_privilege_the_values_are_absent(db: &PgDb) {
    let mut conn = db.conn();
    let role = common::unique_name("fk_safe_writer");
    let schema = &db.schema;
    sql(&mut conn, &format!("CREATE ROLE {role} NOLOGIN"));
    sql(
        &mut conn,
        &format!("GRANT USAGE ON SCHEMA {schema} TO {role}"),
    );
    sql(&mut conn, &format!("GRANT INSERT ON orders TO {role}"));
    sql(
        &mut conn,
        &format!("GRANT USAGE ON SEQUENCE orders_id_seq TO {role}"),
    );
    sql(&mut conn, &format!("SET ROLE {role}"));
    let v = violation_of(&mut conn, |c| {
        diesel::insert_into(orders::table)
            .values(orders::customer_id.eq(999))
            .execute(c)
            .map_err(Error::from)
    });
    sql(&mut conn, "RESET ROLE");
    sql(&mut conn, &format!("DROP OWNED BY {role}"));
    sql(&mut conn, &format!("DROP ROLE {role}"));

    assert_eq!(
        v.detail(),
        Some("Key is not present in table \"customers\".")
    );
    assert_eq!(v.kind(), ViolationKind::MissingParent);
    // The catalog is readable without table privileges.
    assert_eq!(v.child_columns(), ["customer_id"]);
    assert_eq!(v.parent_table(), Some("customers"));
    assert_eq!(v.key_values(), None);
    assert!(
        v.to_string()
            .starts_with("orders.customer_id has no matching row in customers.id"),
        "{v}"
    );
}

fn german_server_messages(conn: &mut PgConnection) {
    if !german_or_skip(conn, "german_server_messages") {
        return;
    }
    let alice = new_customer(conn, "alice@example.com");
    new_order(conn, alice);

    let raw = diesel::insert_into(orders::table)
        .values(orders::customer_id.eq(999))
        .execute(conn)
        .unwrap_err();
    let Error::ForeignKey(bare) = Error::from(raw) else {
        panic!("not classified");
    };
    assert!(
        bare.database_message().contains("Fremdschlüssel"),
        "{}",
        bare.database_message()
    );
    // Without the catalog a translated message does not reveal its side.
    assert_eq!(bare.kind(), ViolationKind::Undetermined);

    let catalog = FkCatalog::new();
    let Error::ForeignKey(missing) = catalog.explain(conn, Error::ForeignKey(bare)) else {
        panic!("explain changed the error");
    };
    assert_eq!(missing.kind(), ViolationKind::MissingParent);
    assert_eq!(values(&missing), Some(vec![Some("999")]));

    let still = match catalog.transaction(conn, |c| {
        diesel::delete(customers::table.find(alice))
            .execute(c)
            .map_err(Error::from)
    }) {
        Err(Error::ForeignKey(v)) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(still.kind(), ViolationKind::StillReferenced);
    assert_eq!(values(&still), Some(vec![Some(alice.to_string().as_str())]));
}

fn german_self_reference_is_decided_from_names(conn: &mut PgConnection) {
    if !german_or_skip(conn, "german_self_reference_is_decided_from_names") {
        return;
    }
    sql(conn, "INSERT INTO employees (id, name) VALUES (1, 'Ann')");
    sql(
        conn,
        "INSERT INTO employees (id, name, manager_id) VALUES (2, 'Bob', 1)",
    );
    // child and parent columns differ (manager_id vs id): the DETAIL decides.
    let v = violation_of(conn, |c| {
        diesel::update(employees::table.find(1))
            .set(employees::id.eq(10))
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.kind(), ViolationKind::StillReferenced);
    // Same column names on both sides: the DETAIL is silent, the message decides.
    sql(
        conn,
        "CREATE TABLE nodes (id BIGINT PRIMARY KEY, parent BIGINT)",
    );
    sql(conn, "CREATE TABLE links (id BIGINT REFERENCES nodes (id))");
    sql(conn, "INSERT INTO nodes VALUES (1, NULL)");
    sql(conn, "INSERT INTO links VALUES (1)");
    let v = violation_of(conn, |c| {
        diesel::sql_query("DELETE FROM nodes")
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.kind(), ViolationKind::StillReferenced);
    let v = violation_of(conn, |c| {
        diesel::sql_query("INSERT INTO links VALUES (5)")
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.kind(), ViolationKind::MissingParent);
    assert_eq!(values(&v), Some(vec![Some("5")]));
}

fn partitioned_tables_resolve_to_the_declared_constraint(conn: &mut PgConnection) {
    sql(conn, "CREATE TABLE accounts (id BIGINT, region TEXT, PRIMARY KEY (id, region)) PARTITION BY LIST (region)");
    sql(
        conn,
        "CREATE TABLE accounts_eu PARTITION OF accounts FOR VALUES IN ('eu')",
    );
    sql(
        conn,
        "CREATE TABLE accounts_us PARTITION OF accounts FOR VALUES IN ('us')",
    );
    sql(conn, "CREATE TABLE events (id BIGINT, account_id BIGINT, region TEXT, CONSTRAINT events_account_fk FOREIGN KEY (account_id, region) REFERENCES accounts (id, region)) PARTITION BY LIST (region)");
    sql(
        conn,
        "CREATE TABLE events_eu PARTITION OF events FOR VALUES IN ('eu')",
    );
    sql(
        conn,
        "CREATE TABLE events_us PARTITION OF events FOR VALUES IN ('us')",
    );
    sql(conn, "INSERT INTO accounts VALUES (1, 'eu')");
    sql(conn, "INSERT INTO events VALUES (1, 1, 'eu')");

    let missing = violation_of(conn, |c| {
        diesel::sql_query("INSERT INTO events VALUES (2, 9, 'us')")
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(missing.kind(), ViolationKind::MissingParent);
    assert_eq!(missing.constraint(), Some("events_account_fk"));
    assert_eq!(missing.child_table(), Some("events"));
    assert_eq!(missing.parent_table(), Some("accounts"));
    assert_eq!(values(&missing), Some(vec![Some("9"), Some("us")]));

    // The server reports a partition and a clone constraint, not what the
    // user declared: that is what must be resolved.
    let raw = conn
        .transaction::<(), _, _>(|c| {
            diesel::sql_query("DELETE FROM accounts WHERE id = 1").execute(c)?;
            Ok(())
        })
        .unwrap_err();
    let diesel::result::Error::DatabaseError(_, info) = &raw else {
        panic!("{raw:?}");
    };
    assert_ne!(info.constraint_name(), Some("events_account_fk"));

    let still = violation_of(conn, |c| {
        diesel::sql_query("DELETE FROM accounts WHERE id = 1")
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(still.kind(), ViolationKind::StillReferenced);
    assert_eq!(still.constraint(), Some("events_account_fk"));
    assert_eq!(still.child_table(), Some("events"));
    assert_eq!(still.parent_table(), Some("accounts"));
    assert_eq!(values(&still), Some(vec![Some("1"), Some("eu")]));
}

/// Counts the statements a connection sends.
fn the_catalog_cache_makes_repeated_errors_free(db: &PgDb) {
    let mut conn = db.conn();
    let counter = StatementCounter::every_statement();
    conn.set_instrumentation(counter.clone());
    let catalog = FkCatalog::new();
    let fail = |conn: &mut PgConnection| {
        diesel::insert_into(orders::table)
            .values(orders::customer_id.eq(999))
            .execute(conn)
            .unwrap_err()
    };

    let raw = fail(&mut conn);
    let before = counter.count();
    let first = catalog.explain(&mut conn, raw);
    assert_eq!(counter.count() - before, 1, "one catalog query");
    assert_eq!(
        first.as_violation().unwrap().parent_table(),
        Some("customers")
    );

    for _ in 0..3 {
        let raw = fail(&mut conn);
        let before = counter.count();
        let again = catalog.explain(&mut conn, raw);
        assert_eq!(counter.count(), before, "no query once cached");
        assert_eq!(
            values(again.as_violation().unwrap()),
            Some(vec![Some("999")])
        );
    }

    // The cache is shared by clones and across connections.
    let mut other = db.conn();
    other.set_instrumentation(counter.clone());
    let raw = fail(&mut other);
    let before = counter.count();
    catalog.clone().explain(&mut other, raw);
    assert_eq!(counter.count(), before);

    catalog.clear();
    let raw = fail(&mut conn);
    let before = counter.count();
    catalog.explain(&mut conn, raw);
    assert_eq!(counter.count() - before, 1, "cleared cache reads again");
}

fn explaining_inside_an_aborted_transaction_says_why_it_is_incomplete(conn: &mut PgConnection) {
    let catalog = FkCatalog::new();
    let explained = conn
        .transaction::<(), Error, _>(|c| {
            let raw = diesel::insert_into(orders::table)
                .values(orders::customer_id.eq(999))
                .execute(c)
                .unwrap_err();
            Err(catalog.explain(c, raw))
        })
        .unwrap_err();
    let v = explained.as_violation().unwrap();
    assert_eq!(v.kind(), ViolationKind::MissingParent);
    assert!(v.child_columns().is_empty());
    let why = v.catalog_error().expect("the reason is kept");
    assert!(why.contains("aborted"), "{why}");
    assert!(v.to_string().contains("could not be read"), "{v}");
}

fn nested_in_the_callers_transaction_only_the_work_is_rolled_back(conn: &mut PgConnection) {
    let catalog = FkCatalog::new();
    conn.transaction::<_, Error, _>(|c| {
        new_customer(c, "kept@example.com");
        let failed = catalog.transaction(c, |c| {
            new_customer(c, "dropped@example.com");
            diesel::insert_into(orders::table)
                .values(orders::customer_id.eq(999))
                .execute(c)?;
            Ok(())
        });
        assert_eq!(
            failed.unwrap_err().as_violation().unwrap().parent_table(),
            Some("customers")
        );
        // The outer transaction is usable and still holds its own write.
        let emails: Vec<String> = customers::table.select(customers::email).load(c)?;
        assert_eq!(emails, ["kept@example.com"]);
        Ok(())
    })
    .unwrap();
}

fn other_errors_pass_through(conn: &mut PgConnection) {
    new_customer(conn, "alice@example.com");
    let raw = diesel::insert_into(customers::table)
        .values((
            customers::email.eq("alice@example.com"),
            customers::name.eq("Alice"),
        ))
        .execute(conn)
        .unwrap_err();
    let explained = FkCatalog::new().explain(conn, raw);
    assert!(matches!(
        explained,
        Error::Database(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _
        ))
    ));
    // The base server stays reachable for the harness.
    let _ = connect_base();
}

fn names(prefix: &str) -> String {
    common::unique_name(prefix)
}

fn schemas_are_reported_when_the_names_are_unique(db: &PgDb) {
    let mut conn = db.conn();
    let (parent, child) = (names("parent"), names("child"));
    sql(
        &mut conn,
        &format!("CREATE TABLE {parent} (id BIGINT PRIMARY KEY)"),
    );
    sql(
        &mut conn,
        &format!("CREATE TABLE {child} (id BIGINT, parent_id BIGINT REFERENCES {parent} (id))"),
    );
    let v = violation_of(&mut conn, |c| {
        diesel::sql_query(format!("INSERT INTO {child} VALUES (1, 5)"))
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.schema(), Some(db.schema.as_str()));
    assert_eq!(v.parent_schema(), Some(db.schema.as_str()));
    assert_eq!(v.parent_table(), Some(parent.as_str()));
}

/// The same table and constraint names in two schemas, with different
/// parents: the DETAIL (untranslated names only) decides, not the search_path.
fn schemas_with_the_same_names_are_told_apart_by_the_detail(conn: &mut PgConnection) {
    let other = names("fk_safe_other");
    sql(conn, &format!("CREATE SCHEMA {other}"));
    sql(
        conn,
        &format!("CREATE TABLE {other}.clients (cid BIGINT PRIMARY KEY)"),
    );
    sql(conn, &format!("CREATE TABLE {other}.orders (id BIGINT, customer_id BIGINT, CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES {other}.clients (cid))"));
    let catalog = FkCatalog::new();
    // The search_path reaches the test schema's `orders`; the write goes to the other one.
    let into_other = catalog.transaction(conn, |c| {
        diesel::sql_query(format!("INSERT INTO {other}.orders VALUES (1, 999)"))
            .execute(c)
            .map_err(Error::from)
    });
    let v = into_other.unwrap_err();
    let v = v.as_violation().unwrap();
    assert_eq!(v.parent_table(), Some("clients"));
    assert_eq!(v.parent_columns(), ["cid"]);
    assert_eq!(v.schema(), Some(other.as_str()));
    // And the same catalog, warm, still answers the test schema's own failure right.
    let into_own = catalog.transaction(conn, |c| {
        diesel::insert_into(orders::table)
            .values(orders::customer_id.eq(999))
            .execute(c)
            .map_err(Error::from)
    });
    let v = into_own.unwrap_err();
    assert_eq!(v.as_violation().unwrap().parent_table(), Some("customers"));
    sql(conn, &format!("DROP SCHEMA {other} CASCADE"));
}

/// Identical definitions in several schemas (schema per tenant): everything
/// but the schema is known; the schema is not guessed.
fn identical_schemas_leave_only_the_schema_unknown(db: &PgDb) {
    let tenant = PgDb::new();
    let catalog = FkCatalog::new();
    for db in [db, &tenant] {
        let mut conn = db.conn();
        let v = match catalog.transaction(&mut conn, |c| {
            diesel::insert_into(orders::table)
                .values(orders::customer_id.eq(999))
                .execute(c)
                .map_err(Error::from)
        }) {
            Err(Error::ForeignKey(v)) => v,
            other => panic!("{other:?}"),
        };
        assert_eq!(v.schema(), None);
        assert_eq!(v.parent_table(), Some("customers"));
        assert_eq!(values(&v), Some(vec![Some("999")]));
        assert!(v.catalog_error().is_none());
    }
}

fn a_recreated_constraint_is_read_again(conn: &mut PgConnection) {
    let catalog = FkCatalog::new();
    let (parent, child) = (names("parent"), names("child"));
    sql(
        conn,
        &format!("CREATE TABLE {parent} (id BIGINT PRIMARY KEY, code BIGINT UNIQUE)"),
    );
    sql(conn, &format!("CREATE TABLE {child} (a BIGINT, b BIGINT, CONSTRAINT c_fk FOREIGN KEY (a) REFERENCES {parent} (id))"));
    let fail = |conn: &mut PgConnection| {
        catalog.transaction(conn, |c| {
            diesel::sql_query(format!("INSERT INTO {child} VALUES (7, 7)"))
                .execute(c)
                .map_err(Error::from)
        })
    };
    let first = fail(conn).unwrap_err();
    assert_eq!(first.as_violation().unwrap().child_columns(), ["a"]);
    sql(conn, &format!("ALTER TABLE {child} DROP CONSTRAINT c_fk"));
    sql(
        conn,
        &format!(
            "ALTER TABLE {child} ADD CONSTRAINT c_fk FOREIGN KEY (b) REFERENCES {parent} (code)"
        ),
    );
    let second = fail(conn).unwrap_err();
    let v = second.as_violation().unwrap();
    assert_eq!(v.child_columns(), ["b"]);
    assert_eq!(v.parent_columns(), ["code"]);
}

fn german_constraint_named_inside_the_parent_name(conn: &mut PgConnection) {
    if !german_or_skip(conn, "german_constraint_named_inside_the_parent_name") {
        return;
    }
    let (parent, child) = (names("kunden"), names("auftrag"));
    // Same column names on both sides, and the constraint's name is a
    // prefix of the parent table's name.
    let constraint = &parent[..parent.len() - 3];
    sql(
        conn,
        &format!("CREATE TABLE {parent} (customer_id BIGINT PRIMARY KEY)"),
    );
    sql(conn, &format!("CREATE TABLE {child} (customer_id BIGINT, CONSTRAINT {constraint} FOREIGN KEY (customer_id) REFERENCES {parent} (customer_id))"));
    sql(conn, &format!("INSERT INTO {parent} VALUES (1)"));
    sql(conn, &format!("INSERT INTO {child} VALUES (1)"));
    let still = violation_of(conn, |c| {
        diesel::sql_query(format!("DELETE FROM {parent}"))
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(still.kind(), ViolationKind::StillReferenced);
    let missing = violation_of(conn, |c| {
        diesel::sql_query(format!("INSERT INTO {child} VALUES (2)"))
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(missing.kind(), ViolationKind::MissingParent);
}

fn german_partitioned_parent_delete(conn: &mut PgConnection) {
    if !german_or_skip(conn, "german_partitioned_parent_delete") {
        return;
    }
    sql(conn, "CREATE TABLE accounts (tenant BIGINT, id BIGINT, PRIMARY KEY (tenant, id)) PARTITION BY LIST (tenant)");
    sql(
        conn,
        "CREATE TABLE accounts_t1 PARTITION OF accounts FOR VALUES IN (1)",
    );
    sql(conn, "CREATE TABLE entries (tenant BIGINT, id BIGINT, FOREIGN KEY (tenant, id) REFERENCES accounts (tenant, id))");
    sql(conn, "INSERT INTO accounts VALUES (1, 1)");
    sql(conn, "INSERT INTO entries VALUES (1, 1)");
    let v = violation_of(conn, |c| {
        diesel::sql_query("DELETE FROM accounts")
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.kind(), ViolationKind::StillReferenced);
    assert_eq!(v.parent_table(), Some("accounts"));
    assert_eq!(values(&v), Some(vec![Some("1"), Some("1")]));
}

fn re_keying_shows_the_update_action_too(conn: &mut PgConnection) {
    sql(conn, "CREATE TABLE owners (id BIGINT PRIMARY KEY)");
    sql(
        conn,
        "CREATE TABLE pets (id BIGINT, owner_id BIGINT REFERENCES owners (id) ON DELETE CASCADE)",
    );
    sql(conn, "INSERT INTO owners VALUES (1)");
    sql(conn, "INSERT INTO pets VALUES (1, 1)");
    let v = violation_of(conn, |c| {
        diesel::sql_query("UPDATE owners SET id = 2")
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.kind(), ViolationKind::StillReferenced);
    let text = v.to_string();
    assert!(
        text.contains("[ON DELETE CASCADE, ON UPDATE NO ACTION]"),
        "{text}"
    );
    assert!(
        text.contains("ON UPDATE CASCADE when the parent's key changes"),
        "{text}"
    );
}

/// The names of a blog, the same in every schema that holds it, and unique
/// to one test (the suite's schemas share a database, and tests running at
/// the same time must not become each other's candidates).
struct Blog {
    authors: String,
    posts: String,
    constraint: String,
}

impl Blog {
    fn new() -> Self {
        let tag = names("blog");
        Blog {
            authors: format!("{tag}_authors"),
            posts: format!("{tag}_posts"),
            constraint: format!("{tag}_fkey"),
        }
    }

    /// `authors` and `posts` in `schema`, the posts referencing the authors
    /// with `actions`, and author 1 wrote post 1 unless `empty`.
    fn create(&self, conn: &mut PgConnection, schema: &str, actions: &str, empty: bool) {
        let Blog {
            authors,
            posts,
            constraint,
        } = self;
        sql(
            conn,
            &format!("CREATE TABLE {schema}.{authors} (id BIGINT PRIMARY KEY)"),
        );
        sql(
            conn,
            &format!(
                "CREATE TABLE {schema}.{posts} (id BIGINT PRIMARY KEY, author_id BIGINT NOT NULL, \
                 CONSTRAINT {constraint} FOREIGN KEY (author_id) REFERENCES {schema}.{authors} (id) {actions})"
            ),
        );
        sql(conn, &format!("INSERT INTO {schema}.{authors} VALUES (1)"));
        if !empty {
            sql(conn, &format!("INSERT INTO {schema}.{posts} VALUES (1, 1)"));
        }
    }

    fn delete_author(&self, conn: &mut PgConnection, schema: &str) -> Box<FkViolation> {
        let authors = &self.authors;
        violation_of(conn, |c| {
            diesel::sql_query(format!("DELETE FROM {schema}.{authors} WHERE id = 1"))
                .execute(c)
                .map_err(Error::from)
        })
    }

    /// How Display opens for a referenced author 1.
    fn still_referenced(&self, actions: &str) -> String {
        format!(
            "cannot delete or re-key {}.id = 1: it is still referenced from {}.author_id \
             (constraint {}) [{actions}]",
            self.authors, self.posts, self.constraint
        )
    }
}

/// PostgreSQL 18 raises 23001 for RESTRICT only: a sibling schema with the
/// same names and NO ACTION cannot be the one that failed.
fn pg18_restrict_is_told_from_a_no_action_sibling_by_its_sqlstate(db: &PgDb) {
    let mut conn = db.conn();
    if server_version(&mut conn) < 180_000 {
        common::skip(
            "pg18_restrict_is_told_from_a_no_action_sibling_by_its_sqlstate",
            "needs PostgreSQL 18 or later (SQLSTATE 23001 for RESTRICT); run it with \
             DATABASE_URL=$(bash scripts/postgres-major.sh 18 url)/fk_safe_test",
        );
        return;
    }
    let sibling = PgDb::new();
    let blog = Blog::new();
    blog.create(&mut conn, &db.schema, "ON DELETE RESTRICT", false);
    blog.create(&mut conn, &sibling.schema, "ON DELETE NO ACTION", false);
    let v = blog.delete_author(&mut conn, &db.schema);
    assert!(
        matches!(
            v.diesel_error(),
            Some(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::RestrictViolation,
                _
            ))
        ),
        "{:?}",
        v.diesel_error()
    );
    assert_eq!(v.kind(), ViolationKind::StillReferenced);
    assert_eq!(v.schema(), Some(db.schema.as_str()));
    assert_eq!(v.child_table(), Some(blog.posts.as_str()));
    assert_eq!(v.child_columns(), ["author_id"]);
    assert_eq!(v.parent_table(), Some(blog.authors.as_str()));
    assert_eq!(v.parent_columns(), ["id"]);
    assert_eq!(values(&v), Some(vec![Some("1")]));
    assert_eq!(v.on_delete(), Some(FkAction::Restrict));
    assert_eq!(v.on_update(), Some(FkAction::NoAction));
    assert!(v.catalog_error().is_none(), "{v}");
    assert!(v.note().is_none(), "{v}");
    assert!(
        v.to_string()
            .starts_with(&blog.still_referenced("ON DELETE RESTRICT, ON UPDATE NO ACTION")),
        "{v}"
    );
}

/// On PostgreSQL 18, 23503 on the parent side comes from NO ACTION only: a
/// twin whose both actions are RESTRICT is ruled out.
fn pg18_no_action_is_told_from_a_restrict_only_sibling_by_its_sqlstate(db: &PgDb) {
    let mut conn = db.conn();
    if server_version(&mut conn) < 180_000 {
        common::skip(
            "pg18_no_action_is_told_from_a_restrict_only_sibling_by_its_sqlstate",
            "needs PostgreSQL 18 or later (SQLSTATE 23001 for RESTRICT); run it with \
             DATABASE_URL=$(bash scripts/postgres-major.sh 18 url)/fk_safe_test",
        );
        return;
    }
    let sibling = PgDb::new();
    let blog = Blog::new();
    blog.create(
        &mut conn,
        &db.schema,
        "ON DELETE RESTRICT ON UPDATE RESTRICT",
        false,
    );
    blog.create(&mut conn, &sibling.schema, "ON DELETE NO ACTION", false);
    let v = blog.delete_author(&mut conn, &sibling.schema);
    assert_eq!(v.kind(), ViolationKind::StillReferenced);
    assert_eq!(v.schema(), Some(sibling.schema.as_str()));
    assert_eq!(v.on_delete(), Some(FkAction::NoAction));
    assert_eq!(values(&v), Some(vec![Some("1")]));
    assert!(v.note().is_none(), "{v}");
}

/// Same names, different actions, and nothing in the error to tell which
/// failed (23503 fits both on every version): what both definitions share
/// is given, the rest is left out, and the violation says why.
fn same_names_with_different_actions_give_what_they_share(db: &PgDb) {
    let mut conn = db.conn();
    let sibling = PgDb::new();
    let blog = Blog::new();
    blog.create(&mut conn, &db.schema, "ON DELETE RESTRICT", false);
    blog.create(&mut conn, &sibling.schema, "ON DELETE NO ACTION", false);
    let v = blog.delete_author(&mut conn, &sibling.schema);
    assert_eq!(v.kind(), ViolationKind::StillReferenced);
    assert_eq!(v.schema(), None);
    assert_eq!(v.child_table(), Some(blog.posts.as_str()));
    assert_eq!(v.child_columns(), ["author_id"]);
    assert_eq!(v.parent_table(), Some(blog.authors.as_str()));
    assert_eq!(v.parent_columns(), ["id"]);
    assert_eq!(values(&v), Some(vec![Some("1")]));
    assert_eq!(v.on_delete(), None);
    assert_eq!(v.on_update(), Some(FkAction::NoAction));
    assert_eq!(v.deferrability(), Some(Deferrability::NotDeferrable));
    assert!(v.catalog_error().is_none(), "{v}");
    let note = v.note().expect("the ambiguity is said");
    assert!(note.starts_with("ambiguous: "), "{note}");
    assert!(note.contains("differ in ON DELETE"), "{note}");
    assert!(
        note.contains(&db.schema) && note.contains(&sibling.schema),
        "{note}"
    );
    let text = v.to_string();
    assert!(!text.contains("could not be read"), "{text}");
    assert!(
        text.starts_with(&blog.still_referenced("ON UPDATE NO ACTION")),
        "{text}"
    );
}

/// Why rows are not taken as evidence: the work itself wrote the child row
/// it then tripped over, so after the rollback only the *other* schema holds
/// a post of author 1. Choosing by the rows would name the wrong schema and
/// the wrong ON UPDATE; the explanation stays ambiguous instead.
fn rows_seen_after_the_rollback_never_choose_the_schema(db: &PgDb) {
    let mut conn = db.conn();
    let sibling = PgDb::new();
    let own = &db.schema;
    let blog = Blog::new();
    blog.create(&mut conn, own, "ON UPDATE CASCADE", true);
    blog.create(&mut conn, &sibling.schema, "", false);
    let posts = &blog.posts;
    let v = violation_of(&mut conn, |c| {
        diesel::sql_query(format!("INSERT INTO {own}.{posts} VALUES (1, 1)")).execute(c)?;
        diesel::sql_query(format!("DELETE FROM {own}.{} WHERE id = 1", blog.authors))
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.kind(), ViolationKind::StillReferenced);
    assert_eq!(v.schema(), None);
    assert_eq!(v.on_delete(), Some(FkAction::NoAction));
    assert_eq!(v.on_update(), None);
    assert_eq!(values(&v), Some(vec![Some("1")]));
    let note = v.note().expect("the ambiguity is said");
    assert!(note.contains("differ in ON UPDATE"), "{note}");
}

/// A twin whose actions are both CASCADE can never refuse a delete: only the
/// NO ACTION definition can have failed, in English and (where the server
/// translates) in German, where the side is learnt from the catalog first.
fn a_cascading_twin_cannot_be_the_one_that_refused(db: &PgDb) {
    let mut conn = db.conn();
    let sibling = PgDb::new();
    let blog = Blog::new();
    blog.create(&mut conn, &db.schema, "ON DELETE NO ACTION", false);
    blog.create(
        &mut conn,
        &sibling.schema,
        "ON DELETE CASCADE ON UPDATE CASCADE",
        false,
    );
    let check = |v: &FkViolation| {
        assert_eq!(v.kind(), ViolationKind::StillReferenced);
        assert_eq!(v.schema(), Some(db.schema.as_str()));
        assert_eq!(v.on_delete(), Some(FkAction::NoAction));
        assert_eq!(v.on_update(), Some(FkAction::NoAction));
        assert_eq!(values(v), Some(vec![Some("1")]));
        assert!(v.note().is_none(), "{v}");
    };
    check(&blog.delete_author(&mut conn, &db.schema));
    if german_or_skip(
        &mut conn,
        "a_cascading_twin_cannot_be_the_one_that_refused (German)",
    ) {
        let v = blog.delete_author(&mut conn, &db.schema);
        assert!(v.database_message().contains("Fremdschlüssel"), "{v}");
        check(&v);
    }
}

common::on_postgres! {
    restrict_action_is_reported,
    composite_value_with_separator_is_not_guessed,
    null_in_a_composite_key,
    deferrable_constraint_fails_at_commit,
    without_select_privilege_the_values_are_absent with db,
    german_server_messages,
    german_self_reference_is_decided_from_names,
    partitioned_tables_resolve_to_the_declared_constraint,
    the_catalog_cache_makes_repeated_errors_free with db,
    explaining_inside_an_aborted_transaction_says_why_it_is_incomplete,
    nested_in_the_callers_transaction_only_the_work_is_rolled_back,
    other_errors_pass_through,
    schemas_are_reported_when_the_names_are_unique with db,
    schemas_with_the_same_names_are_told_apart_by_the_detail,
    identical_schemas_leave_only_the_schema_unknown with db,
    a_recreated_constraint_is_read_again,
    german_constraint_named_inside_the_parent_name,
    german_partitioned_parent_delete,
    re_keying_shows_the_update_action_too,
    pg18_restrict_is_told_from_a_no_action_sibling_by_its_sqlstate with db,
    pg18_no_action_is_told_from_a_restrict_only_sibling_by_its_sqlstate with db,
    same_names_with_different_actions_give_what_they_share with db,
    rows_seen_after_the_rollback_never_choose_the_schema with db,
    a_cascading_twin_cannot_be_the_one_that_refused with db,
}

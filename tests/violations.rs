//! FkViolation scenarios that both backends run: each is written once with
//! the assertions both make, and what only one backend says (PostgreSQL's
//! constraint names and messages, SQLite's replay) is checked by that
//! backend's `then` function next to it. Every test runs in its own database
//! (a PostgreSQL schema, a SQLite file). The cases only one backend has are
//! in postgres_violations.rs and sqlite_violations.rs.

mod common;

use common::violations::{sql, values, violation_of};
use diesel::dsl::{delete, insert_into, Count, Eq, Find, Update, Values};
use diesel::prelude::*;
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::methods::{ExecuteDsl, LoadQuery};
use fk_safe::{Error, FkAction, FkCatalog, FkConnection, FkViolation, ForeignKey, ViolationKind};
use fk_safe_suite::schema::*;

#[cfg(feature = "sqlite")]
use common::violations::seed_customer_with_order;
#[cfg(feature = "postgres")]
use common::violations::{new_customer, new_order};
#[cfg(feature = "postgres")]
use fk_safe::{Database, Deferrability};

/// A customer with an order: their keys.
#[cfg(feature = "postgres")]
fn customer_with_order_postgres(conn: &mut PgConnection) -> (i64, i64) {
    let alice = new_customer(conn, "alice@example.com");
    let order = new_order(conn, alice);
    (alice, order)
}

/// Customer 1 with order 10.
#[cfg(feature = "sqlite")]
fn customer_with_order_sqlite(conn: &mut SqliteConnection) -> (i64, i64) {
    seed_customer_with_order(conn);
    (1, 10)
}

type InsertOrderOf = Values<insert_into<orders::table>, Eq<orders::customer_id, i64>>;

fn missing_parent_on_insert<C>(conn: &mut C, then: fn(&mut C, &FkViolation))
where
    C: FkConnection,
    InsertOrderOf: ExecuteDsl<C>,
{
    let v = violation_of(conn, |c| {
        diesel::insert_into(orders::table)
            .values(orders::customer_id.eq(999))
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.kind(), ViolationKind::MissingParent);
    assert_eq!(v.child_table(), Some("orders"));
    assert_eq!(v.child_columns(), ["customer_id"]);
    assert_eq!(v.parent_table(), Some("customers"));
    assert_eq!(v.parent_columns(), ["id"]);
    assert_eq!(values(&v), Some(vec![Some("999")]));
    assert_eq!(v.on_delete(), Some(FkAction::NoAction));
    then(conn, &v);
}

#[cfg(feature = "postgres")]
fn missing_parent_on_insert_postgres(_: &mut PgConnection, v: &FkViolation) {
    assert_eq!(v.database(), Database::Postgres);
    assert_eq!(v.constraint(), Some("orders_customer_id_fkey"));
    // The schema: other tests' schemas hold the same names, so it is left
    // unknown here; see `schemas_*` and `identical_schemas_*` in
    // postgres_violations.rs.
    assert_eq!(v.on_update(), Some(FkAction::NoAction));
    assert_eq!(v.deferrability(), Some(Deferrability::NotDeferrable));
    assert!(v.catalog_error().is_none());
    assert_eq!(
        v.to_string(),
        "orders.customer_id = 999 has no matching row in customers.id (constraint \
         orders_customer_id_fkey). Fix: insert the customers row first (in the same \
         transaction), or use a key that exists in customers"
    );
    // The original Diesel error is kept as the source.
    let source = std::error::Error::source(v).expect("a source");
    assert!(source.to_string().contains("orders_customer_id_fkey"));
}

#[cfg(feature = "sqlite")]
fn missing_parent_on_insert_sqlite(conn: &mut SqliteConnection, v: &FkViolation) {
    assert_eq!(v.schema(), Some("main"));
    assert_eq!(v.constraint(), None);
    assert_eq!(
        v.to_string(),
        "orders.customer_id = 999 has no matching row in customers.id. Fix: insert the \
         customers row first (in the same transaction), or use a key that exists in customers"
    );
    // The replay left nothing behind.
    let orders: i64 = orders::table.count().get_result(conn).unwrap();
    assert_eq!(orders, 0);
}

/// Moves the order `seed` made to the customer `missing`, who does not exist.
fn missing_parent_on_update<C>(
    conn: &mut C,
    seed: fn(&mut C) -> (i64, i64),
    missing: i64,
    then: fn(&mut C, &FkViolation),
) where
    C: FkConnection,
    Update<Find<orders::table, i64>, Eq<orders::customer_id, i64>>: ExecuteDsl<C>,
{
    let (_, order) = seed(conn);
    let v = violation_of(conn, |c| {
        diesel::update(orders::table.find(order))
            .set(orders::customer_id.eq(missing))
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.kind(), ViolationKind::MissingParent);
    assert_eq!(values(&v), Some(vec![Some(missing.to_string().as_str())]));
    then(conn, &v);
}

#[cfg(feature = "sqlite")]
fn missing_parent_on_update_sqlite(conn: &mut SqliteConnection, _: &FkViolation) {
    let still: i64 = orders::table
        .find(10)
        .select(orders::customer_id)
        .first(conn)
        .unwrap();
    assert_eq!(still, 1);
}

fn deleting_a_referenced_parent<C>(
    conn: &mut C,
    seed: fn(&mut C) -> (i64, i64),
    then: fn(&mut C, &FkViolation),
) where
    C: FkConnection,
    delete<Find<customers::table, i64>>: ExecuteDsl<C>,
    for<'a> Count<customers::table>: LoadQuery<'a, C, i64>,
{
    let (alice, _) = seed(conn);
    let v = violation_of(conn, |c| {
        diesel::delete(customers::table.find(alice))
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.kind(), ViolationKind::StillReferenced);
    // The constraint and its child table are named, whichever side failed.
    assert_eq!(v.child_table(), Some("orders"));
    assert_eq!(v.parent_table(), Some("customers"));
    assert_eq!(values(&v), Some(vec![Some(alice.to_string().as_str())]));
    let text = v.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot delete or re-key customers.id = {alice}: it is still referenced from orders.customer_id"
        )),
        "{text}"
    );
    then(conn, &v);
    // Nothing was deleted.
    let left: i64 = customers::table.count().get_result(conn).unwrap();
    assert_eq!(left, 1);
}

#[cfg(feature = "postgres")]
fn deleting_a_referenced_parent_postgres(_: &mut PgConnection, v: &FkViolation) {
    let text = v.to_string();
    assert!(text.contains("ON DELETE CASCADE / SET NULL"), "{text}");
}

/// Gives the customer `seed` made the key `new_key(old)`.
fn re_keying_a_referenced_parent<C>(
    conn: &mut C,
    seed: fn(&mut C) -> (i64, i64),
    new_key: fn(i64) -> i64,
) where
    C: FkConnection,
    Update<Find<customers::table, i64>, Eq<customers::id, i64>>: ExecuteDsl<C>,
{
    let (alice, _) = seed(conn);
    let v = violation_of(conn, |c| {
        diesel::update(customers::table.find(alice))
            .set(customers::id.eq(new_key(alice)))
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.kind(), ViolationKind::StillReferenced);
    assert_eq!(values(&v), Some(vec![Some(alice.to_string().as_str())]));
}

type InsertStockLevel = Values<
    insert_into<stock_levels::table>,
    (
        Eq<stock_levels::tenant_id, i64>,
        Eq<stock_levels::warehouse_code, &'static str>,
        Eq<stock_levels::product_id, i64>,
        Eq<stock_levels::quantity, i32>,
    ),
>;

/// A stock level of tenant 7 in a warehouse `code` that does not exist.
fn composite_key<C>(conn: &mut C, code: &'static str, then: fn(&mut C, &FkViolation))
where
    C: FkConnection,
    InsertStockLevel: ExecuteDsl<C>,
    SqlQuery: ExecuteDsl<C>,
{
    sql(
        conn,
        "INSERT INTO products (id, sku, name, price_cents) VALUES (1, 'P1', 'Pen', 100)",
    );
    let v = violation_of(conn, |c| {
        diesel::insert_into(stock_levels::table)
            .values((
                stock_levels::tenant_id.eq(7),
                stock_levels::warehouse_code.eq(code),
                stock_levels::product_id.eq(1),
                stock_levels::quantity.eq(3),
            ))
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.kind(), ViolationKind::MissingParent);
    assert_eq!(v.child_columns(), ["tenant_id", "warehouse_code"]);
    assert_eq!(v.parent_columns(), ["tenant_id", "code"]);
    assert_eq!(v.on_update(), Some(FkAction::Cascade));
    assert_eq!(values(&v), Some(vec![Some("7"), Some(code)]));
    then(conn, &v);
}

#[cfg(feature = "postgres")]
fn composite_key_postgres(_: &mut PgConnection, v: &FkViolation) {
    assert_eq!(v.parent_table(), Some("warehouses"));
    assert!(
        v.to_string()
            .starts_with("stock_levels.(tenant_id, warehouse_code) = (7, \"MAIN\") has no matching row in warehouses.(tenant_id, code)"),
        "{v}"
    );
}

/// The values were read from the row itself (the code is `A, B`), so a
/// separator inside a value is no problem.
#[cfg(feature = "sqlite")]
fn composite_key_sqlite(conn: &mut SqliteConnection, _: &FkViolation) {
    // A NULL in the key is not checked (MATCH SIMPLE).
    sql(conn, "INSERT INTO stock_levels (tenant_id, warehouse_code, product_id, quantity) VALUES (7, NULL, 1, 3)");
}

type InsertEmployee = Values<
    insert_into<employees::table>,
    (
        Eq<employees::name, &'static str>,
        Eq<employees::manager_id, i64>,
    ),
>;

fn self_reference<C>(conn: &mut C, then: fn(&mut C))
where
    C: FkConnection,
    InsertEmployee: ExecuteDsl<C>,
{
    let v = violation_of(conn, |c| {
        diesel::insert_into(employees::table)
            .values((employees::name.eq("Bob"), employees::manager_id.eq(77)))
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.kind(), ViolationKind::MissingParent);
    assert_eq!(v.child_table(), Some("employees"));
    assert_eq!(v.parent_table(), Some("employees"));
    assert_eq!(v.child_columns(), ["manager_id"]);
    assert_eq!(v.on_delete(), Some(FkAction::SetNull));
    assert_eq!(values(&v), Some(vec![Some("77")]));
    then(conn);
}

#[cfg(feature = "postgres")]
fn self_reference_postgres(conn: &mut PgConnection) {
    // Re-keying a manager who still has reports (ON UPDATE NO ACTION).
    sql(conn, "INSERT INTO employees (id, name) VALUES (1, 'Ann')");
    sql(
        conn,
        "INSERT INTO employees (id, name, manager_id) VALUES (2, 'Bob', 1)",
    );
    let v = violation_of(conn, |c| {
        diesel::update(employees::table.find(1))
            .set(employees::id.eq(10))
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.kind(), ViolationKind::StillReferenced);
    assert_eq!(values(&v), Some(vec![Some("1")]));
}

fn quoted_identifiers<C>(conn: &mut C, then: fn(&FkViolation))
where
    C: FkConnection,
    Values<insert_into<pick_lines::table>, Eq<pick_lines::bin_ref, i64>>: ExecuteDsl<C>,
{
    let v = violation_of(conn, |c| {
        diesel::insert_into(pick_lines::table)
            .values(pick_lines::bin_ref.eq(42))
            .execute(c)
            .map_err(Error::from)
    });
    assert_eq!(v.kind(), ViolationKind::MissingParent);
    assert_eq!(v.child_table(), Some("Pick Lines (Ä)"));
    assert_eq!(v.child_columns(), ["Bin, (Ref)"]);
    assert_eq!(v.parent_table(), Some("Lager \"Nord\" Größe"));
    assert_eq!(v.parent_columns(), ["Bin ID"]);
    assert_eq!(values(&v), Some(vec![Some("42")]));
    then(&v);
}

#[cfg(feature = "postgres")]
fn quoted_identifiers_postgres(v: &FkViolation) {
    assert!(
        v.to_string().starts_with(
            r#""Pick Lines (Ä)"."Bin, (Ref)" = 42 has no matching row in "Lager ""Nord"" Größe"."Bin ID""#
        ),
        "{v}"
    );
}

type Pooled<D> = diesel::r2d2::PooledConnection<
    diesel::r2d2::ConnectionManager<<D as common::FreshDb>::Connection>,
>;

fn errors_through_an_r2d2_pool<D>(db: &D, then: fn(&mut Pooled<D>))
where
    D: common::FreshDb,
    D::Connection: FkConnection,
    Pooled<D>: FkConnection,
    InsertOrderOf: ExecuteDsl<Pooled<D>>,
{
    let pool = diesel::r2d2::Pool::builder()
        .max_size(2)
        .connection_customizer(Box::new(fk_safe::EnforceForeignKeys))
        .build(diesel::r2d2::ConnectionManager::<D::Connection>::new(
            db.database_url(),
        ))
        .unwrap();
    let catalog = FkCatalog::new();
    let mut conn = pool.get().unwrap();
    let result = catalog.transaction(&mut conn, |c| {
        diesel::insert_into(orders::table)
            .values(orders::customer_id.eq(999))
            .execute(c)?;
        Ok(())
    });
    let Err(Error::ForeignKey(v)) = result else {
        panic!("{result:?}");
    };
    assert_eq!(v.parent_table(), Some("customers"));
    assert_eq!(values(&v), Some(vec![Some("999")]));
    then(&mut conn);
}

/// The pooled connection is left outside any transaction.
#[cfg(feature = "sqlite")]
fn errors_through_an_r2d2_pool_sqlite(conn: &mut Pooled<common::sqlite::SqliteDb>) {
    conn.immediate_transaction(|_| Ok::<_, diesel::result::Error>(()))
        .unwrap();
}

/// The catalog lists the 9 foreign keys of the migrations (those
/// `in_this_database` says belong to the fresh database).
fn the_foreign_key_catalog_lists_the_schema<D>(
    db: &D,
    in_this_database: fn(&D, &ForeignKey) -> bool,
    then: fn(&[&ForeignKey]),
) where
    D: common::FreshDb,
    D::Connection: FkConnection,
{
    let mut conn = db.connect();
    let all = FkCatalog::new().foreign_keys(&mut conn).unwrap();
    let ours: Vec<_> = all.iter().filter(|fk| in_this_database(db, fk)).collect();
    assert_eq!(ours.len(), 9, "{ours:#?}");
    then(&ours);
}

#[cfg(feature = "postgres")]
fn the_foreign_key_catalog_lists_the_schema_postgres(ours: &[&ForeignKey]) {
    assert!(ours.iter().any(|fk| fk.table == "Pick Lines (Ä)"
        && fk.columns == ["Bin, (Ref)"]
        && fk.parent_table == "Lager \"Nord\" Größe"));
}

#[cfg(feature = "sqlite")]
fn the_foreign_key_catalog_lists_the_schema_sqlite(all: &[&ForeignKey]) {
    let composite = all
        .iter()
        .find(|fk| fk.table == "stock_levels" && fk.columns.len() == 2)
        .unwrap();
    assert_eq!(composite.parent_columns, ["tenant_id", "code"]);
}

common::on_both_backends! {
    missing_parent_on_insert => {
        postgres: (missing_parent_on_insert_postgres),
        sqlite: (missing_parent_on_insert_sqlite),
    },
    missing_parent_on_update => {
        postgres: (customer_with_order_postgres, 4242, |_, _| {}),
        sqlite: (customer_with_order_sqlite, 31, missing_parent_on_update_sqlite),
    },
    deleting_a_referenced_parent => {
        postgres: (customer_with_order_postgres, deleting_a_referenced_parent_postgres),
        sqlite: (customer_with_order_sqlite, |_, _| {}),
    },
    re_keying_a_referenced_parent => {
        postgres: (customer_with_order_postgres, |alice| alice + 1000),
        sqlite: (customer_with_order_sqlite, |_| 2),
    },
    composite_key => {
        postgres: ("MAIN", composite_key_postgres),
        sqlite: ("A, B", composite_key_sqlite),
    },
    self_reference => {
        postgres: (self_reference_postgres),
        sqlite: (|_| {}),
    },
    quoted_identifiers => {
        postgres: (quoted_identifiers_postgres),
        sqlite: (|_| {}),
    },
    errors_through_an_r2d2_pool with db => {
        postgres: (|_| {}),
        sqlite: (errors_through_an_r2d2_pool_sqlite),
    },
    the_foreign_key_catalog_lists_the_schema with db => {
        postgres: (|db, fk| fk.schema == db.schema, the_foreign_key_catalog_lists_the_schema_postgres),
        sqlite: (|_, _| true, the_foreign_key_catalog_lists_the_schema_sqlite),
    },
}

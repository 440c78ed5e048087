//! insert_graph() against the real databases. Each scenario is written once,
//! generic over the connection, and run on PostgreSQL and SQLite.

mod common;

use common::{count_rows, Count, StatementCounter};
use diesel::connection::LoadConnection;
use diesel::prelude::*;
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::LoadQuery;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use fk_safe::graph::{insert_graph, Graph, Handle, WriteRow};
use fk_safe::{Error, FkConnection, FkOrdered, GraphError, ViolationKind};
use fk_safe_suite::models::*;
use fk_safe_suite::shop::{ProductPick, Shop, ShopItem, SHOP_ITEMS_SQL};

/// One order item with the natural keys of everything it hangs from.
type ItemPath = ShopItem;

fn item_paths<C>(conn: &mut C) -> Vec<ItemPath>
where
    C: LoadConnection,
    for<'a> SqlQuery: LoadQuery<'a, C, ItemPath>,
{
    diesel::sql_query(SHOP_ITEMS_SQL).load(conn).unwrap()
}

fn create_products<C>(conn: &mut C, n: usize) -> Vec<i64>
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewProduct: WriteRow<C::Backend>,
{
    let mut graph = Graph::new();
    let handles: Vec<Handle<NewProduct>> = (0..n)
        .map(|i| {
            graph
                .add(NewProduct {
                    sku: format!("SKU-{i}"),
                    name: format!("Product {i}"),
                    price_cents: 100 + i as i64,
                })
                .handle()
        })
        .collect();
    let ids = insert_graph(conn, &graph).unwrap();
    handles.iter().map(|&h| ids[h]).collect()
}

/// `customers` customers, each with `orders` orders of `items` items that
/// reference existing products; returns the graph, and what every item must
/// hang from once written.
fn shop_graph<DB>(
    customers: usize,
    orders: usize,
    items: usize,
    products: &[i64],
) -> (Graph<DB>, Vec<ItemPath>)
where
    DB: fk_safe::FkBackend + 'static,
    NewCustomer: WriteRow<DB>,
    NewOrder: WriteRow<DB>,
    NewOrderItem: WriteRow<DB>,
{
    // The tests' shape of the shared shop: totals in tens, quantities from
    // 1, products staggered by customer, order and item.
    let shop = Shop::new(customers, orders, items)
        .cents_per_order(10)
        .first_quantity(1)
        .product_pick(ProductPick::Staggered);
    let graph = shop
        .graph(products)
        .expect("the tests create products first");
    let expected = shop
        .items(products)
        .expect("the tests create products first");
    (graph, expected)
}

fn writes_a_shop<C>(conn: &mut C)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewProduct: WriteRow<C::Backend>,
    NewCustomer: WriteRow<C::Backend>,
    NewOrder: WriteRow<C::Backend>,
    NewOrderItem: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, ItemPath>,
{
    let products = create_products(conn, 7);
    let (graph, expected) = shop_graph(20, 3, 4, &products);
    assert_eq!(graph.len(), 20 + 60 + 240);
    insert_graph(conn, &graph).unwrap();
    assert_eq!(item_paths(conn), expected);
}

fn batches_past_the_bind_limit<C>(conn: &mut C, items: usize)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewProduct: WriteRow<C::Backend>,
    NewCustomer: WriteRow<C::Backend>,
    NewOrder: WriteRow<C::Backend>,
    NewOrderItem: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, ItemPath>,
{
    let products = create_products(conn, 3);
    let (graph, expected) = shop_graph(1, 2, items / 2, &products);
    let counter = StatementCounter::default();
    conn.set_instrumentation(counter.clone());
    let ids = insert_graph(conn, &graph).unwrap();
    let statements = counter.count();
    conn.set_instrumentation(StatementCounter::default());
    // BEGIN, the look-up of the existing products, 1 customer, 1 statement
    // for both orders, items split at the bind limit (3 columns each), COMMIT.
    let per_statement = <C::Backend as fk_safe::FkBackend>::rows_per_statement(3);
    let item_statements = items.div_ceil(per_statement);
    assert!(item_statements >= 2, "the test must cross the limit");
    assert_eq!(statements, 2 + 1 + 1 + 1 + item_statements);
    assert_eq!(ids.all::<NewOrderItem>().len(), items);
    assert_eq!(item_paths(conn), expected);
}

fn employee(name: &str) -> NewEmployee {
    NewEmployee {
        name: name.into(),
        manager_id: None,
        department_id: None,
    }
}

fn self_reference<C>(conn: &mut C)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewEmployee: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Reports>,
{
    let mut graph = Graph::new();
    let ceo = graph.add(employee("CEO")).handle();
    let manager = graph.add(employee("Manager")).parent(ceo).handle();
    graph.add(employee("Report 1")).parent(manager);
    graph.add(employee("Report 2")).parent(manager);
    graph.add(employee("Assistant")).parent(ceo);
    insert_graph(conn, &graph).unwrap();
    assert_eq!(
        reports(conn),
        [
            ("Assistant".to_string(), Some("CEO".to_string())),
            ("CEO".to_string(), None),
            ("Manager".to_string(), Some("CEO".to_string())),
            ("Report 1".to_string(), Some("Manager".to_string())),
            ("Report 2".to_string(), Some("Manager".to_string())),
        ]
    );
}

fn reports<C>(conn: &mut C) -> Vec<(String, Option<String>)>
where
    C: LoadConnection,
    for<'a> SqlQuery: LoadQuery<'a, C, Reports>,
{
    let rows: Vec<Reports> = diesel::sql_query(
        "SELECT e.name, m.name AS manager FROM employees e \
         LEFT JOIN employees m ON m.id = e.manager_id ORDER BY e.name",
    )
    .load(conn)
    .unwrap();
    rows.into_iter().map(|r| (r.name, r.manager)).collect()
}

#[derive(QueryableByName)]
struct Reports {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Text>)]
    manager: Option<String>,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Heads {
    #[diesel(sql_type = Text)]
    department: String,
    #[diesel(sql_type = Nullable<Text>)]
    head: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    head_works_in: Option<String>,
}

/// Two tables that reference each other, in one graph, without deferring.
fn mutual_references<C>(conn: &mut C)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewEmployee: WriteRow<C::Backend>,
    NewDepartment: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Heads>,
{
    let mut graph = Graph::new();
    let research = graph
        .add(NewDepartment {
            name: "Research".into(),
            head_employee_id: None,
        })
        .handle();
    let ada = graph.add(employee("Ada")).parent(research).handle();
    graph
        .add(NewDepartment {
            name: "Lab".into(),
            head_employee_id: None,
        })
        .parent(ada);
    insert_graph(conn, &graph).unwrap();
    let heads: Vec<Heads> = diesel::sql_query(
        "SELECT d.name AS department, e.name AS head, w.name AS head_works_in FROM departments d \
         LEFT JOIN employees e ON e.id = d.head_employee_id \
         LEFT JOIN departments w ON w.id = e.department_id ORDER BY d.name",
    )
    .load(conn)
    .unwrap();
    assert_eq!(
        heads,
        [
            Heads {
                department: "Lab".into(),
                head: Some("Ada".into()),
                head_works_in: Some("Research".into()),
            },
            Heads {
                department: "Research".into(),
                head: None,
                head_works_in: None,
            },
        ]
    );
}

fn a_missing_existing_parent_rolls_everything_back<C>(conn: &mut C)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewProduct: WriteRow<C::Backend>,
    NewCustomer: WriteRow<C::Backend>,
    NewOrder: WriteRow<C::Backend>,
    NewOrderItem: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    let products = create_products(conn, 2);
    let (mut graph, _) = shop_graph(3, 2, 2, &products);
    let customer = graph
        .add(NewCustomer {
            email: "late@example.com".into(),
            name: "Late".into(),
        })
        .handle();
    let order = graph
        .add(NewOrder {
            customer_id: 0,
            total_cents: 1,
        })
        .parent(customer)
        .handle();
    graph
        .add(NewOrderItem {
            order_id: 0,
            product_id: 9_999,
            quantity: 1,
        })
        .parent(order);
    // A second missing product, and an order for a missing customer.
    graph
        .add(NewOrderItem {
            order_id: 0,
            product_id: 8_888,
            quantity: 2,
        })
        .parent(order);
    graph.add(NewOrder {
        customer_id: 7_777,
        total_cents: 2,
    });
    let counter = StatementCounter::default();
    conn.set_instrumentation(counter.clone());
    let error = insert_graph(conn, &graph).unwrap_err();
    conn.set_instrumentation(StatementCounter::default());
    // BEGIN, one look-up per relation that names existing rows, ROLLBACK.
    assert_eq!(counter.count(), 4, "{error}");
    let Error::MissingParents(all) = &error else {
        panic!("{error:?}");
    };
    let found: Vec<String> = all
        .iter()
        .map(|v| {
            let origin = v.origin().expect("the input row is named");
            format!(
                "{} #{:?} {:?} = {:?}",
                origin.model,
                origin.row,
                origin.relation,
                v.key_values().and_then(|k| k[0].as_deref())
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            "NewOrder #Some(7) Some(\"customer_id\") = Some(\"7777\")",
            "NewOrderItem #Some(12) Some(\"product_id\") = Some(\"9999\")",
            "NewOrderItem #Some(13) Some(\"product_id\") = Some(\"8888\")",
        ]
    );
    let v = &all[1];
    assert_eq!(v.kind(), ViolationKind::MissingParent);
    assert_eq!(v.child_table(), Some("order_items"));
    assert_eq!(v.parent_table(), Some("products"));
    assert_eq!(v.parent_columns(), ["id"]);
    assert!(v.diesel_error().is_none());
    assert!(
        error.to_string().starts_with(
            "3 referenced parent rows do not exist; nothing was written:\n  - NewOrder row #7 \
             (relation `customer_id`): orders.customer_id = 7777 has no matching row in customers.id"
        ),
        "{error}"
    );
    for table in ["customers", "orders", "order_items"] {
        assert_eq!(count_rows(conn, table), 0, "{table} must be empty");
    }
}

/// A parent that exists when the graph is checked but is gone when the
/// child is written (a concurrent delete; here a trigger plays that part):
/// the database's error is mapped back to the input row.
fn a_parent_vanishing_mid_insert_is_located<C>(conn: &mut C, trigger: &[&str])
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewOrder: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    conn.batch_execute(
        "INSERT INTO customers (id, email, name) \
         VALUES (5, 'gone@example.com', 'Gone'), (6, 'stays@example.com', 'Stays')",
    )
    .unwrap();
    for statement in trigger {
        conn.batch_execute(statement).unwrap();
    }
    let mut graph = Graph::new();
    for (customer_id, total_cents) in [(6, 1), (6, 2), (5, 3), (6, 4)] {
        graph.add(NewOrder {
            customer_id,
            total_cents,
        });
    }
    let error = insert_graph(conn, &graph).unwrap_err();
    let Error::ForeignKey(v) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(v.kind(), ViolationKind::MissingParent);
    assert_eq!(v.child_columns(), ["customer_id"]);
    let origin = v.origin().expect("the input row is named");
    assert_eq!(origin.model, "NewOrder");
    assert_eq!(origin.relation, Some("customer_id"));
    assert_eq!(origin.row, Some(2));
    assert!(
        v.to_string()
            .starts_with("NewOrder row #2 (relation `customer_id`): orders.customer_id = 5"),
        "{v}"
    );
    assert_eq!(count_rows(conn, "orders"), 0);
}

/// A seed script: products and customers by natural key, orders below them.
fn seed<DB>(run: i64) -> Graph<DB>
where
    DB: fk_safe::FkBackend + 'static,
    NewProduct: WriteRow<DB>,
    NewCustomer: WriteRow<DB>,
    NewOrder: WriteRow<DB>,
{
    let mut graph = Graph::new();
    for sku in ["PEN", "INK", "PEN"] {
        graph.get_or_insert(NewProduct {
            sku: sku.into(),
            name: format!("{sku} (run {run})"),
            price_cents: 100,
        });
    }
    for email in ["alice@example.com", "bob@example.com"] {
        let customer = graph
            .get_or_insert(NewCustomer {
                email: email.into(),
                name: format!("{email} (run {run})"),
            })
            .handle();
        graph
            .add(NewOrder {
                customer_id: 0,
                total_cents: run,
            })
            .parent(customer);
    }
    graph
}

#[derive(QueryableByName, Debug, PartialEq)]
struct OrderOf {
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    total_cents: i64,
}

fn get_or_insert_makes_seeds_idempotent<C>(conn: &mut C)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewProduct: WriteRow<C::Backend>,
    NewCustomer: WriteRow<C::Backend>,
    NewOrder: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Count> + LoadQuery<'a, C, OrderOf>,
{
    // Bob exists before the first run; his row must be reused, not touched.
    conn.batch_execute(
        "INSERT INTO customers (id, email, name) VALUES (40, 'bob@example.com', 'Bob')",
    )
    .unwrap();
    let first = insert_graph(conn, &seed(1)).unwrap();
    let second = insert_graph(conn, &seed(2)).unwrap();
    assert_eq!(first.all::<NewCustomer>(), second.all::<NewCustomer>());
    assert_eq!(first.all::<NewProduct>(), second.all::<NewProduct>());
    // The duplicate PEN in one graph is one row.
    let products = first.all::<NewProduct>();
    assert_eq!(products[0], products[2]);
    assert_eq!(first.all::<NewCustomer>()[1], 40);
    assert_eq!(count_rows(conn, "products"), 2);
    assert_eq!(count_rows(conn, "customers"), 2);
    let orders: Vec<OrderOf> = diesel::sql_query(
        "SELECT c.email, c.name, o.total_cents FROM orders o JOIN customers c ON c.id = o.customer_id \
         ORDER BY o.total_cents, c.email",
    )
    .load(conn)
    .unwrap();
    let orders: Vec<(String, String, i64)> = orders
        .into_iter()
        .map(|o| (o.email, o.name, o.total_cents))
        .collect();
    assert_eq!(
        orders,
        [
            (
                "alice@example.com".into(),
                "alice@example.com (run 1)".into(),
                1
            ),
            ("bob@example.com".into(), "Bob".into(), 1),
            (
                "alice@example.com".into(),
                "alice@example.com (run 1)".into(),
                2
            ),
            ("bob@example.com".into(), "Bob".into(), 2),
        ]
    );
}

/// "Find Alice's real id by her email", inside the insert's transaction.
fn lookups_of_existing_parents<C>(conn: &mut C)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewCustomer: WriteRow<C::Backend> + fk_safe::graph::WriteNaturalKey<C::Backend>,
    NewOrder: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Count> + LoadQuery<'a, C, OrderOf>,
{
    conn.batch_execute(
        "INSERT INTO customers (id, email, name) VALUES (77, 'alice@example.com', 'Alice')",
    )
    .unwrap();
    let mut graph = Graph::new();
    let alice = graph.lookup::<NewCustomer>("alice@example.com".to_string());
    graph
        .add(NewOrder {
            customer_id: 0,
            total_cents: 5,
        })
        .parent(alice);
    let ids = insert_graph(conn, &graph).unwrap();
    assert_eq!(ids[alice], 77);
    assert_eq!(ids.existed(alice), Some(true));
    let orders: Vec<OrderOf> = diesel::sql_query(
        "SELECT c.email, c.name, o.total_cents FROM orders o JOIN customers c ON c.id = o.customer_id",
    )
    .load(conn)
    .unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].email, "alice@example.com");

    // Look-ups that find nothing are all reported, with the rows that needed them.
    let mut graph = Graph::new();
    let bob = graph.lookup::<NewCustomer>("bob@example.com".to_string());
    let _carol = graph.lookup::<NewCustomer>("carol@example.com".to_string());
    for total_cents in [6, 7] {
        graph
            .add(NewOrder {
                customer_id: 0,
                total_cents,
            })
            .parent(bob);
    }
    let error = insert_graph(conn, &graph).unwrap_err();
    let Error::MissingParents(all) = &error else {
        panic!("{error:?}");
    };
    let text: Vec<String> = all.iter().map(|v| v.to_string()).collect();
    assert_eq!(text.len(), 3, "{text:#?}");
    assert!(
        text[0].starts_with(
            "NewOrder row #0 (relation `customer_id`): no row customers.email = \"bob@example.com\" \
             exists (looked up for orders.customer_id)"
        ),
        "{}",
        text[0]
    );
    assert_eq!(
        all[0].key_values(),
        Some(&[Some("bob@example.com".to_string())][..])
    );
    assert!(text[1].starts_with("NewOrder row #1"), "{}", text[1]);
    assert!(
        text[2].starts_with("NewCustomer: no row customers.email = \"carol@example.com\" exists"),
        "{}",
        text[2]
    );
    assert_eq!(count_rows(conn, "orders"), 1);
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Stocked {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Integer)]
    quantity: i32,
}

fn composite_foreign_keys<C>(conn: &mut C)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewProduct: WriteRow<C::Backend>,
    NewWarehouse: WriteRow<C::Backend>,
    NewStockLevel: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Stocked> + LoadQuery<'a, C, Count>,
{
    let products = create_products(conn, 1);
    conn.batch_execute(
        "INSERT INTO warehouses (tenant_id, code, name) VALUES (7, 'OLD', 'Old depot')",
    )
    .unwrap();
    let mut graph = Graph::new();
    let north = graph
        .add(NewWarehouse {
            tenant_id: 7,
            code: "NORTH".into(),
            name: "North".into(),
        })
        .handle();
    let south = graph
        .add(NewWarehouse {
            tenant_id: 8,
            code: "SOUTH".into(),
            name: "South".into(),
        })
        .handle();
    let stock = |quantity: i32| NewStockLevel {
        tenant_id: 0,
        warehouse_code: None,
        product_id: products[0],
        quantity,
    };
    graph.add(stock(1)).parent(north);
    graph.add(stock(2)).parent(south);
    // An existing warehouse by its composite key.
    graph.add(NewStockLevel {
        tenant_id: 7,
        warehouse_code: Some("OLD".into()),
        ..stock(3)
    });
    // A NULL part: not checked (MATCH SIMPLE), written as it is.
    graph.add(NewStockLevel {
        tenant_id: 9,
        ..stock(4)
    });
    let ids = insert_graph(conn, &graph).unwrap();
    assert_eq!(ids[north], (7, "NORTH".to_string()));
    let rows: Vec<Stocked> = diesel::sql_query(
        "SELECT COALESCE(w.name, '-') AS name, s.quantity FROM stock_levels s \
         LEFT JOIN warehouses w ON w.tenant_id = s.tenant_id AND w.code = s.warehouse_code \
         ORDER BY s.quantity",
    )
    .load(conn)
    .unwrap();
    let rows: Vec<(String, i32)> = rows.into_iter().map(|r| (r.name, r.quantity)).collect();
    assert_eq!(
        rows,
        [
            ("North".to_string(), 1),
            ("South".to_string(), 2),
            ("Old depot".to_string(), 3),
            ("-".to_string(), 4),
        ]
    );

    // A missing composite parent is found before writing, with both values.
    let mut graph = Graph::new();
    graph.add(NewStockLevel {
        tenant_id: 7,
        warehouse_code: Some("NOPE".into()),
        ..stock(5)
    });
    let error = insert_graph(conn, &graph).unwrap_err();
    let Error::MissingParents(missing) = &error else {
        panic!("{error:?}");
    };
    let v = &missing[0];
    assert_eq!(v.child_columns(), ["tenant_id", "warehouse_code"]);
    assert_eq!(v.parent_columns(), ["tenant_id", "code"]);
    assert_eq!(
        v.key_values(),
        Some(&[Some("7".to_string()), Some("NOPE".to_string())][..])
    );
    assert!(
        v.to_string().starts_with(
            "NewStockLevel row #0 (relation `warehouse`): stock_levels.(tenant_id, warehouse_code) = (7, \"NOPE\") has no matching row in warehouses.(tenant_id, code)"
        ),
        "{v}"
    );
    assert_eq!(count_rows(conn, "stock_levels"), 4);
}

fn nested_in_the_callers_transaction<C>(conn: &mut C)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewCustomer: WriteRow<C::Backend>,
    NewOrder: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    conn.transaction::<_, Error, _>(|conn| {
        let mut kept = Graph::new();
        kept.add(NewCustomer {
            email: "kept@example.com".into(),
            name: "Kept".into(),
        });
        insert_graph(conn, &kept)?;

        let mut failing = Graph::new();
        failing.add(NewCustomer {
            email: "dropped@example.com".into(),
            name: "Dropped".into(),
        });
        failing.add(NewOrder {
            customer_id: 4_242,
            total_cents: 1,
        });
        let error = insert_graph(conn, &failing).unwrap_err();
        assert_eq!(error.as_violation().unwrap().origin().unwrap().row, Some(0));
        // Only the failing graph was rolled back.
        assert_eq!(count_rows(conn, "customers"), 1);
        Ok(())
    })
    .unwrap();
    assert_eq!(count_rows(conn, "customers"), 1);
}

diesel::table! {
    nodes (id) {
        id -> BigInt,
        parent_id -> BigInt,
    }
}

#[derive(Identifiable)]
#[diesel(table_name = nodes)]
struct Node {
    id: i64,
}

/// A self-reference that may not be NULL.
#[derive(Insertable, FkOrdered)]
#[diesel(table_name = nodes)]
#[diesel(belongs_to(Node, foreign_key = parent_id))]
struct NewNode {
    parent_id: i64,
}

fn a_cycle_through_not_null_keys_is_refused_before_any_sql<C>(conn: &mut C, ddl: &str)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewNode: WriteRow<C::Backend>,
{
    conn.batch_execute(ddl).unwrap();
    let mut graph = Graph::new();
    let node = graph.add(NewNode { parent_id: 0 });
    let own = node.handle();
    // The only circle `parent` can make: a row linked to itself.
    node.parent(own);
    let counter = StatementCounter::default();
    conn.set_instrumentation(counter.clone());
    let error = insert_graph(conn, &graph).unwrap_err();
    assert_eq!(counter.count(), 0, "nothing may be sent");
    match &error {
        Error::Graph(GraphError::Cycle { path }) => {
            assert_eq!(path, &[("NewNode", "parent_id", 0)]);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        error.to_string().starts_with(
            "the graph's links form a cycle: NewNode row #0 via `parent_id` -> NewNode row #0."
        ),
        "{error}"
    );
}

#[derive(QueryableByName, Debug, PartialEq)]
struct HeadOf {
    #[diesel(sql_type = Text)]
    department: String,
    #[diesel(sql_type = Nullable<Text>)]
    head: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    head_works_in: Option<String>,
}

/// Two rows that point at each other: the cycle is broken at the nullable
/// link, written with an UPDATE once both rows exist.
fn a_mutual_cycle_is_written<C>(conn: &mut C)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewEmployee: WriteRow<C::Backend>,
    NewDepartment: WriteRow<C::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, C, HeadOf> + LoadQuery<'a, C, Reports>,
{
    let mut graph = Graph::new();
    let lab = graph
        .add(NewDepartment {
            name: "Lab".into(),
            head_employee_id: None,
        })
        .handle();
    let ada = graph.add(employee("Ada")).parent(lab).handle();
    graph.link(lab, NewDepartment::HEAD_EMPLOYEE_ID, ada);
    // And a row that is its own manager, through a nullable self-reference.
    let boss = graph.add(employee("Boss")).handle();
    graph.link(boss, NewEmployee::MANAGER_ID, boss);
    let counter = StatementCounter::default();
    conn.set_instrumentation(counter.clone());
    insert_graph(conn, &graph).unwrap();
    // BEGIN; depth 0: the department, Boss; depth 1: Ada (below her
    // department); the links that closed cycles, one UPDATE for each of
    // their 2 relations; COMMIT.
    assert_eq!(counter.count(), 7);
    let heads: Vec<HeadOf> = diesel::sql_query(
        "SELECT d.name AS department, e.name AS head, w.name AS head_works_in FROM departments d \
         LEFT JOIN employees e ON e.id = d.head_employee_id \
         LEFT JOIN departments w ON w.id = e.department_id",
    )
    .load(conn)
    .unwrap();
    assert_eq!(
        heads,
        [HeadOf {
            department: "Lab".into(),
            head: Some("Ada".into()),
            head_works_in: Some("Lab".into()),
        }]
    );
    assert!(reports(conn).contains(&("Boss".to_string(), Some("Boss".to_string()))));
}

/// Another session takes values from the same sequences while the graph
/// is written; a mechanism that zipped returned ids by position or
/// assumed contiguous ids would attach children to the wrong parents.
#[cfg(feature = "postgres")]
fn concurrent_sequence_use_does_not_mismatch_ids(db: &common::pg::PgDb) {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    let mut conn = db.conn();
    let products = create_products(&mut conn, 5);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let thief = {
        let stop = Arc::clone(&stop);
        let mut other = db.conn();
        std::thread::spawn(move || {
            let mut taken = 0u64;
            while !stop.load(Ordering::SeqCst) && taken < 2_000_000 {
                diesel::sql_query(
                    "SELECT nextval('customers_id_seq'), nextval('orders_id_seq'), nextval('order_items_id_seq') FROM generate_series(1, 50)",
                )
                .execute(&mut other)
                .unwrap();
                taken += 50;
            }
            taken
        })
    };
    let (graph, expected) = shop_graph(300, 5, 4, &products);
    let ids = insert_graph(&mut conn, &graph).unwrap();
    stop.store(true, Ordering::SeqCst);
    let taken = thief.join().unwrap();
    assert!(taken > 0);
    assert_eq!(ids.all::<NewCustomer>().len(), 300);
    assert_eq!(item_paths(&mut conn), expected);
}

#[cfg(feature = "postgres")]
fn handles_of_another_graph_are_refused(conn: &mut PgConnection) {
    let mut other = Graph::<diesel::pg::Pg>::new();
    let stranger = other
        .add(NewCustomer {
            email: "x@example.com".into(),
            name: "X".into(),
        })
        .handle();
    let mut graph = Graph::new();
    graph.add(NewCustomer {
        email: "a@example.com".into(),
        name: "A".into(),
    });
    graph
        .add(NewOrder {
            customer_id: 0,
            total_cents: 1,
        })
        .parent(stranger);
    let error = insert_graph(conn, &graph).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Graph(GraphError::ForeignHandle {
                model: "NewCustomer"
            })
        ),
        "{error:?}"
    );
    let ids = insert_graph(conn, &other).unwrap();
    assert!(ids.get(stranger).is_some());
}

#[cfg(feature = "postgres")]
fn ids_index_by_handle(conn: &mut PgConnection) {
    let mut graph = Graph::new();
    let alice = graph
        .add(NewCustomer {
            email: "alice@example.com".into(),
            name: "Alice".into(),
        })
        .handle();
    let ids = insert_graph(conn, &graph).unwrap();
    let id: i64 = ids[alice];
    assert_eq!(ids.get(alice), Some(&id));
    let email: String = fk_safe_suite::schema::customers::table
        .find(id)
        .select(fk_safe_suite::schema::customers::email)
        .first(conn)
        .unwrap();
    assert_eq!(email, "alice@example.com");
}

/// Writes the shop through a pooled connection (a pool of one, built by
/// `builder`).
fn r2d2_pool<D, DB>(
    db: &D,
    builder: diesel::r2d2::Builder<diesel::r2d2::ConnectionManager<D::Connection>>,
) where
    D: common::FreshDb,
    Pooled<D>: FkConnection<Backend = DB>,
    DB: fk_safe::FkBackend + 'static,
    NewProduct: WriteRow<DB>,
    NewCustomer: WriteRow<DB>,
    NewOrder: WriteRow<DB>,
    NewOrderItem: WriteRow<DB>,
    for<'a> SqlQuery: LoadQuery<'a, Pooled<D>, ItemPath>,
{
    let pool = builder
        .max_size(1)
        .build(diesel::r2d2::ConnectionManager::<D::Connection>::new(
            db.database_url(),
        ))
        .unwrap();
    let mut conn: Pooled<D> = pool.get().unwrap();
    writes_a_shop(&mut conn);
}

type Pooled<D> = diesel::r2d2::PooledConnection<
    diesel::r2d2::ConnectionManager<<D as common::FreshDb>::Connection>,
>;

common::on_both_backends! {
    writes_a_shop,
    batches_past_the_bind_limit => { postgres: (50_000), sqlite: (25_000) },
    self_reference,
    mutual_references,
    a_missing_existing_parent_rolls_everything_back,
    nested_in_the_callers_transaction,
    get_or_insert_makes_seeds_idempotent,
    lookups_of_existing_parents,
    composite_foreign_keys,
    a_parent_vanishing_mid_insert_is_located => {
        postgres: (&[
            "CREATE FUNCTION vanish() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN IF NEW.customer_id = 5 THEN DELETE FROM customers WHERE id = 5; END IF; RETURN NEW; END $$",
            "CREATE TRIGGER vanish BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION vanish()",
        ]),
        sqlite: (&[
            "CREATE TRIGGER vanish BEFORE INSERT ON orders WHEN NEW.customer_id = 5 \
               BEGIN DELETE FROM customers WHERE id = 5; END",
        ]),
    },
    a_cycle_through_not_null_keys_is_refused_before_any_sql => {
        postgres: ("CREATE TABLE nodes (id BIGSERIAL PRIMARY KEY, parent_id BIGINT NOT NULL REFERENCES nodes (id))"),
        sqlite: ("CREATE TABLE nodes (id INTEGER PRIMARY KEY, parent_id BIGINT NOT NULL REFERENCES nodes (id))"),
    },
    a_mutual_cycle_is_written,
    r2d2_pool with db => {
        postgres: (diesel::r2d2::Pool::builder()),
        sqlite: (diesel::r2d2::Pool::builder()
            .connection_customizer(Box::new(fk_safe::EnforceForeignKeys))),
    },
}

common::on_postgres! {
    concurrent_sequence_use_does_not_mismatch_ids with db,
    handles_of_another_graph_are_refused,
    ids_index_by_handle,
}

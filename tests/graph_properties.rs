//! Random graphs: random shapes, depths and fan-outs, parents new and
//! existing. After insert_graph(), every child must point at exactly the
//! parent it was linked to, checked through natural keys (names, emails,
//! totals, quantities) rather than through the ids fk-safe returned.

mod common;

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::LoadQuery;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use fk_safe::graph::{insert_graph, Graph, Handle, WriteRow};
use fk_safe::FkConnection;
use fk_safe_suite::models::*;
use proptest::prelude::*;

/// Where a row's parent comes from.
#[derive(Debug, Clone)]
enum Parent {
    /// A row added earlier to the graph (an index among that model's new rows).
    New(usize),
    /// A row that exists before the insert (an index among existing rows).
    Existing(usize),
}

#[derive(Debug, Clone)]
struct Shape {
    existing_customers: usize,
    new_customers: usize,
    /// Each order's customer.
    orders: Vec<Parent>,
    /// Each item's order (always new) and product (existing).
    items: Vec<(usize, usize)>,
    /// Each employee's manager: none, or an earlier new employee, or an
    /// existing one.
    employees: Vec<Option<Parent>>,
}

const PRODUCTS: usize = 3;
const EXISTING_EMPLOYEES: usize = 2;

fn parent(new: usize, existing: usize) -> BoxedStrategy<Parent> {
    match (new, existing) {
        (0, e) => (0..e).prop_map(Parent::Existing).boxed(),
        (n, 0) => (0..n).prop_map(Parent::New).boxed(),
        (n, e) => prop_oneof![
            (0..n).prop_map(Parent::New),
            (0..e).prop_map(Parent::Existing)
        ]
        .boxed(),
    }
}

fn shape() -> impl Strategy<Value = Shape> {
    (0usize..3, 1usize..5)
        .prop_flat_map(|(existing, new)| {
            let orders = prop::collection::vec(parent(new, existing), 0..12);
            (Just(existing), Just(new), orders)
        })
        .prop_flat_map(|(existing, new, orders)| {
            let items = if orders.is_empty() {
                Just(Vec::new()).boxed()
            } else {
                prop::collection::vec((0..orders.len(), 0..PRODUCTS), 0..30).boxed()
            };
            let employees = prop::collection::vec(any::<(u8, usize)>(), 0..25);
            (Just(existing), Just(new), Just(orders), items, employees)
        })
        .prop_map(|(existing, new, orders, items, raw_employees)| {
            // Managers are earlier employees (any depth) or existing ones.
            let employees = raw_employees
                .into_iter()
                .enumerate()
                .map(|(i, (choice, pick))| match choice % 3 {
                    0 => None,
                    1 if i > 0 => Some(Parent::New(pick % i)),
                    _ => Some(Parent::Existing(pick % EXISTING_EMPLOYEES)),
                })
                .collect();
            Shape {
                existing_customers: existing,
                new_customers: new,
                orders,
                items,
                employees,
            }
        })
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct OrderOwner {
    #[diesel(sql_type = BigInt)]
    total_cents: i64,
    #[diesel(sql_type = Text)]
    email: String,
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct ItemOwner {
    #[diesel(sql_type = Integer)]
    quantity: i32,
    #[diesel(sql_type = BigInt)]
    total_cents: i64,
    #[diesel(sql_type = Text)]
    sku: String,
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct Reporting {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Text>)]
    manager: Option<String>,
}

fn email(new: bool, i: usize) -> String {
    format!("{}{i}@example.com", if new { "new" } else { "old" })
}

fn employee_name(new: bool, i: usize) -> String {
    format!("{} employee {i}", if new { "new" } else { "old" })
}

/// Writes what exists before the graph, returning the ids of existing
/// customers, products and employees.
fn seed_existing<C: Connection>(conn: &mut C, customers: usize) -> (Vec<i64>, Vec<i64>, Vec<i64>) {
    let mut sql = String::new();
    for i in 0..customers {
        sql += &format!(
            "INSERT INTO customers (id, email, name) VALUES ({}, '{}', 'Old');",
            1000 + i,
            email(false, i)
        );
    }
    for i in 0..PRODUCTS {
        sql += &format!(
            "INSERT INTO products (id, sku, name, price_cents) VALUES ({}, 'SKU{i}', 'P', 1);",
            2000 + i
        );
    }
    for i in 0..EXISTING_EMPLOYEES {
        sql += &format!(
            "INSERT INTO employees (id, name) VALUES ({}, '{}');",
            3000 + i,
            employee_name(false, i)
        );
    }
    conn.batch_execute(&sql).unwrap();
    (
        (0..customers).map(|i| 1000 + i as i64).collect(),
        (0..PRODUCTS).map(|i| 2000 + i as i64).collect(),
        (0..EXISTING_EMPLOYEES).map(|i| 3000 + i as i64).collect(),
    )
}

fn check_random_graph<C>(conn: &mut C, shape: &Shape)
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewCustomer: WriteRow<C::Backend>,
    NewOrder: WriteRow<C::Backend>,
    NewOrderItem: WriteRow<C::Backend>,
    NewEmployee: WriteRow<C::Backend>,
    for<'a> SqlQuery:
        LoadQuery<'a, C, OrderOwner> + LoadQuery<'a, C, ItemOwner> + LoadQuery<'a, C, Reporting>,
{
    let (old_customers, products, old_employees) = seed_existing(conn, shape.existing_customers);
    let mut graph = Graph::new();
    let customers: Vec<Handle<NewCustomer>> = (0..shape.new_customers)
        .map(|i| {
            graph
                .add(NewCustomer {
                    email: email(true, i),
                    name: "New".into(),
                })
                .handle()
        })
        .collect();
    let mut expected_orders = BTreeSet::new();
    let mut orders = Vec::new();
    for (o, owner) in shape.orders.iter().enumerate() {
        let total_cents = o as i64;
        let node = match *owner {
            Parent::New(c) => graph
                .add(NewOrder {
                    customer_id: -1,
                    total_cents,
                })
                .parent(customers[c]),
            Parent::Existing(c) => graph.add(NewOrder {
                customer_id: old_customers[c],
                total_cents,
            }),
        };
        orders.push(node.handle());
        let owner_email = match *owner {
            Parent::New(c) => email(true, c),
            Parent::Existing(c) => email(false, c),
        };
        expected_orders.insert(OrderOwner {
            total_cents,
            email: owner_email,
        });
    }
    let mut expected_items = BTreeSet::new();
    for (i, &(order, product)) in shape.items.iter().enumerate() {
        graph
            .add(NewOrderItem {
                order_id: -1,
                product_id: products[product],
                quantity: i as i32,
            })
            .parent(orders[order]);
        expected_items.insert(ItemOwner {
            quantity: i as i32,
            total_cents: order as i64,
            sku: format!("SKU{product}"),
        });
    }
    let mut employees = Vec::new();
    let mut expected_reporting = BTreeSet::new();
    for i in 0..EXISTING_EMPLOYEES {
        expected_reporting.insert(Reporting {
            name: employee_name(false, i),
            manager: None,
        });
    }
    for (e, manager) in shape.employees.iter().enumerate() {
        let row = NewEmployee {
            name: employee_name(true, e),
            manager_id: None,
            department_id: None,
        };
        let node = match manager {
            None => graph.add(row),
            Some(Parent::New(m)) => graph.add(row).parent(employees[*m]),
            Some(Parent::Existing(m)) => graph.add(NewEmployee {
                manager_id: Some(old_employees[*m]),
                ..row
            }),
        };
        employees.push(node.handle());
        expected_reporting.insert(Reporting {
            name: employee_name(true, e),
            manager: match manager {
                None => None,
                Some(Parent::New(m)) => Some(employee_name(true, *m)),
                Some(Parent::Existing(m)) => Some(employee_name(false, *m)),
            },
        });
    }

    let ids = insert_graph(conn, &graph).unwrap();
    assert_eq!(ids.all::<NewOrderItem>().len(), shape.items.len());

    let found_orders: BTreeSet<OrderOwner> = diesel::sql_query(
        "SELECT o.total_cents, c.email FROM orders o JOIN customers c ON c.id = o.customer_id",
    )
    .load(conn)
    .unwrap()
    .into_iter()
    .collect();
    assert_eq!(found_orders, expected_orders);
    let found_items: BTreeSet<ItemOwner> = diesel::sql_query(
        "SELECT i.quantity, o.total_cents, p.sku FROM order_items i \
         JOIN orders o ON o.id = i.order_id JOIN products p ON p.id = i.product_id",
    )
    .load(conn)
    .unwrap()
    .into_iter()
    .collect();
    assert_eq!(found_items, expected_items);
    let found_reporting: BTreeSet<Reporting> = diesel::sql_query(
        "SELECT e.name, m.name AS manager FROM employees e LEFT JOIN employees m ON m.id = e.manager_id",
    )
    .load(conn)
    .unwrap()
    .into_iter()
    .collect();
    assert_eq!(found_reporting, expected_reporting);
}

/// `cases` random shapes, each written into a fresh database of `D`.
fn random_graphs<D>(cases: u32)
where
    D: common::FreshDb,
    D::Connection: FkConnection,
    <D::Connection as Connection>::Backend: fk_safe::FkBackend + 'static,
    NewCustomer: WriteRow<<D::Connection as Connection>::Backend>,
    NewOrder: WriteRow<<D::Connection as Connection>::Backend>,
    NewOrderItem: WriteRow<<D::Connection as Connection>::Backend>,
    NewEmployee: WriteRow<<D::Connection as Connection>::Backend>,
    for<'a> SqlQuery: LoadQuery<'a, D::Connection, OrderOwner>
        + LoadQuery<'a, D::Connection, ItemOwner>
        + LoadQuery<'a, D::Connection, Reporting>,
{
    proptest!(ProptestConfig::with_cases(cases), |(shape in shape())| {
        let db = D::fresh();
        check_random_graph(&mut db.connect(), &shape);
    });
}

common::on_both_backends! {
    random_graphs with db_type => { postgres: (24), sqlite: (48) },
}

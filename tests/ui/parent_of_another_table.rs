use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { customers (id) { id -> BigInt, email -> Text } }
diesel::table! { orders (id) { id -> BigInt, customer_id -> BigInt, total -> BigInt } }

#[derive(Identifiable)]
#[diesel(table_name = customers)]
struct Customer { id: i64 }

diesel::table! { products (id) { id -> BigInt, sku -> Text } }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = products)]
struct NewProduct { sku: String }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = orders)]
#[diesel(belongs_to(Customer, foreign_key = customer_id))]
struct NewOrder { customer_id: i64, total: i64 }

fn link<DB: fk_safe::FkBackend + 'static>(graph: &mut fk_safe::graph::Graph<DB>)
where
    NewProduct: fk_safe::graph::WriteRow<DB>,
    NewOrder: fk_safe::graph::WriteRow<DB>,
{
    let pen = graph.add(NewProduct { sku: "PEN".into() }).handle();
    // An order does not belong to a product.
    graph.add(NewOrder { customer_id: 0, total: 1 }).parent(pen);
}

fn main() {}

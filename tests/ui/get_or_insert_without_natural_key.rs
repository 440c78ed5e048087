use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { customers (id) { id -> BigInt, email -> Text } }
diesel::table! { orders (id) { id -> BigInt, customer_id -> BigInt, total -> BigInt } }

#[derive(Identifiable)]
#[diesel(table_name = customers)]
struct Customer { id: i64 }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = customers)]
struct NewCustomer { email: String }

fn seed<DB: fk_safe::FkBackend + 'static>(graph: &mut fk_safe::graph::Graph<DB>)
where
    NewCustomer: fk_safe::graph::WriteRow<DB>,
{
    // Without #[fk(natural_key(email))] there is nothing to find the row by.
    graph.get_or_insert(NewCustomer { email: "a@example.com".into() });
}

fn main() {}

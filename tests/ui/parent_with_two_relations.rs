use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { customers (id) { id -> BigInt, email -> Text } }
diesel::table! { orders (id) { id -> BigInt, customer_id -> BigInt, total -> BigInt } }

#[derive(Identifiable)]
#[diesel(table_name = customers)]
struct Customer { id: i64 }

diesel::table! { transfers (id) { id -> BigInt, from_id -> BigInt, to_id -> BigInt } }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = customers)]
struct NewCustomer { email: String }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = transfers)]
#[diesel(belongs_to(Customer, foreign_key = from_id))]
#[diesel(belongs_to(Customer, foreign_key = to_id))]
struct NewTransfer { from_id: i64, to_id: i64 }

fn link<DB: fk_safe::FkBackend + 'static>(graph: &mut fk_safe::graph::Graph<DB>)
where
    NewCustomer: fk_safe::graph::WriteRow<DB>,
    NewTransfer: fk_safe::graph::WriteRow<DB>,
{
    let alice = graph.add(NewCustomer { email: "a@example.com".into() }).handle();
    // Which of the two? It must be said: .parent_via(NewTransfer::FROM_ID, alice).
    graph.add(NewTransfer { from_id: 0, to_id: 0 }).parent(alice);
}

fn main() {}

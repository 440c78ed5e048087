use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { customers (id) { id -> BigInt, email -> Text } }
diesel::table! { orders (id) { id -> BigInt, customer_id -> BigInt, total -> BigInt } }

#[derive(Identifiable)]
#[diesel(table_name = customers)]
struct Customer { id: i64 }

diesel::table! { warehouses (tenant_id, code) { tenant_id -> BigInt, code -> Text } }
diesel::table! { stock (id) { id -> BigInt, tenant_id -> BigInt, warehouse_no -> BigInt } }

#[derive(Identifiable)]
#[diesel(table_name = warehouses, primary_key(tenant_id, code))]
struct Warehouse { tenant_id: i64, code: String }

// The second part is a number; the warehouse's code is text.
#[derive(Insertable, FkOrdered)]
#[diesel(table_name = stock)]
#[fk(relation(name = warehouse, parent = Warehouse, foreign_key(tenant_id, warehouse_no)))]
struct NewStock { tenant_id: i64, warehouse_no: i64 }

fn main() {}

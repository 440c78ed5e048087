// A relation is named by its foreign-key column only when it has a parent
// and a single column.
use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { warehouses (tenant_id, code) { tenant_id -> BigInt, code -> Text } }
diesel::table! { stock (id) { id -> BigInt, tenant_id -> BigInt, code -> Text } }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = stock)]
#[fk(relation(foreign_key = tenant_id))]
struct NoParent { tenant_id: i64, code: String }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = stock)]
#[fk(relation(parent = warehouses, foreign_key(tenant_id, code)))]
struct Composite { tenant_id: i64, code: String }

fn main() {}

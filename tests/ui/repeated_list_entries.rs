// A column or field listed twice in one list, and a flag given twice, are
// errors at the repeat (a key, a natural key or a foreign key lists each
// once).
use diesel::prelude::*;
use fk_safe::FkOrdered;

diesel::table! { tenants (id) { id -> BigInt } }
diesel::table! { warehouses (tenant_id, code) { tenant_id -> BigInt, code -> Text } }
diesel::table! { stock (tenant_id, sku) { tenant_id -> BigInt, sku -> Text, warehouse_code -> Text, note -> Text } }

#[derive(Insertable, FkOrdered)]
#[diesel(table_name = stock)]
#[diesel(primary_key(tenant_id, sku, tenant_id))]
#[fk(natural_key(sku, sku))]
#[fk(relation(name = warehouse, parent = warehouses, foreign_key(tenant_id, tenant_id)))]
struct NewStock {
    tenant_id: i64,
    sku: String,
    warehouse_code: String,
    #[diesel(skip_insertion, skip_insertion)]
    note: String,
}

fn main() {}

//! Diesel models of the demo shop: `Identifiable` rows that relations point
//! at, and `Insertable` + `FkOrdered` rows that graphs write.

use diesel::prelude::*;
use fk_safe::FkOrdered;

use crate::schema::*;

#[derive(Debug, Queryable, Identifiable, Selectable)]
#[diesel(table_name = customers)]
pub struct Customer {
    pub id: i64,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Queryable, Identifiable)]
#[diesel(table_name = products)]
pub struct Product {
    pub id: i64,
}

#[derive(Debug, Queryable, Identifiable)]
#[diesel(table_name = orders)]
pub struct Order {
    pub id: i64,
}

#[derive(Debug, Queryable, Identifiable)]
#[diesel(table_name = employees)]
pub struct Employee {
    pub id: i64,
}

#[derive(Debug, Queryable, Identifiable)]
#[diesel(table_name = departments)]
pub struct Department {
    pub id: i64,
}

#[derive(Debug, Clone, Insertable, FkOrdered)]
#[diesel(table_name = customers)]
#[fk(natural_key(email))]
pub struct NewCustomer {
    pub email: String,
    pub name: String,
}

#[derive(Debug, Clone, Insertable, FkOrdered)]
#[diesel(table_name = products)]
#[fk(natural_key(sku))]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
}

#[derive(Debug, Clone, Insertable, FkOrdered)]
#[diesel(table_name = orders)]
#[diesel(belongs_to(Customer, foreign_key = customer_id))]
pub struct NewOrder {
    /// Filled from the linked customer; any value until then.
    pub customer_id: i64,
    pub total_cents: i64,
}

#[derive(Debug, Clone, Insertable, FkOrdered)]
#[diesel(table_name = order_items)]
#[diesel(belongs_to(Order, foreign_key = order_id))]
#[diesel(belongs_to(Product, foreign_key = product_id))]
pub struct NewOrderItem {
    pub order_id: i64,
    /// An existing product's id, or filled from a linked new product.
    pub product_id: i64,
    pub quantity: i32,
}

#[derive(Debug, Clone, Insertable, FkOrdered)]
#[diesel(table_name = employees)]
#[diesel(belongs_to(Employee, foreign_key = manager_id))]
#[diesel(belongs_to(Department, foreign_key = department_id))]
pub struct NewEmployee {
    pub name: String,
    pub manager_id: Option<i64>,
    pub department_id: Option<i64>,
}

/// Departments and employees reference each other: a department's head is
/// an employee, an employee works in a department.
#[derive(Debug, Clone, Insertable, FkOrdered)]
#[diesel(table_name = departments)]
#[diesel(belongs_to(Employee, foreign_key = head_employee_id))]
pub struct NewDepartment {
    pub name: String,
    pub head_employee_id: Option<i64>,
}

#[derive(Debug, Queryable, Identifiable)]
#[diesel(table_name = warehouses, primary_key(tenant_id, code))]
pub struct Warehouse {
    pub tenant_id: i64,
    pub code: String,
}

/// A composite key chosen by the client.
#[derive(Debug, Clone, Insertable, FkOrdered)]
#[diesel(table_name = warehouses, primary_key(tenant_id, code))]
pub struct NewWarehouse {
    pub tenant_id: i64,
    pub code: String,
    pub name: String,
}

/// A composite foreign key, which Diesel's `belongs_to` cannot express.
#[derive(Debug, Clone, Insertable, FkOrdered)]
#[diesel(table_name = stock_levels)]
#[diesel(belongs_to(Product, foreign_key = product_id))]
#[fk(relation(name = warehouse, parent = Warehouse, foreign_key(tenant_id, warehouse_code)))]
pub struct NewStockLevel {
    pub tenant_id: i64,
    pub warehouse_code: Option<String>,
    pub product_id: i64,
    pub quantity: i32,
}

//! Diesel's view of `migrations/` (identical on both backends).

diesel::table! {
    customers (id) {
        id -> BigInt,
        email -> Text,
        name -> Text,
    }
}

diesel::table! {
    products (id) {
        id -> BigInt,
        sku -> Text,
        name -> Text,
        price_cents -> BigInt,
    }
}

diesel::table! {
    orders (id) {
        id -> BigInt,
        customer_id -> BigInt,
        total_cents -> BigInt,
        reference -> Nullable<Text>,
    }
}

diesel::table! {
    order_items (id) {
        id -> BigInt,
        order_id -> BigInt,
        product_id -> BigInt,
        quantity -> Integer,
        line_ref -> Nullable<Text>,
    }
}

diesel::table! {
    departments (id) {
        id -> BigInt,
        name -> Text,
        head_employee_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    employees (id) {
        id -> BigInt,
        name -> Text,
        manager_id -> Nullable<BigInt>,
        department_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    warehouses (tenant_id, code) {
        tenant_id -> BigInt,
        code -> Text,
        name -> Text,
    }
}

diesel::table! {
    stock_levels (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        warehouse_code -> Nullable<Text>,
        product_id -> BigInt,
        quantity -> Integer,
    }
}

diesel::table! {
    #[sql_name = "Lager \"Nord\" Größe"]
    storage_bins (bin_id) {
        #[sql_name = "Bin ID"]
        bin_id -> BigInt,
        #[sql_name = "Label"]
        label -> Text,
    }
}

diesel::table! {
    #[sql_name = "Pick Lines (Ä)"]
    pick_lines (line_id) {
        #[sql_name = "Line ID"]
        line_id -> BigInt,
        #[sql_name = "Bin, (Ref)"]
        bin_ref -> BigInt,
        #[sql_name = "Note"]
        note -> Nullable<Text>,
    }
}

diesel::joinable!(orders -> customers (customer_id));
diesel::joinable!(order_items -> orders (order_id));
diesel::joinable!(order_items -> products (product_id));
diesel::joinable!(stock_levels -> products (product_id));
diesel::joinable!(pick_lines -> storage_bins (bin_ref));

diesel::allow_tables_to_appear_in_same_query!(
    customers,
    products,
    orders,
    order_items,
    departments,
    employees,
    warehouses,
    stock_levels,
    storage_bins,
    pick_lines,
);

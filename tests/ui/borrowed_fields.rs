use fk_safe::FkOrdered;

diesel::table! { customers (id) { id -> BigInt, email -> Text } }

#[derive(FkOrdered)]
#[diesel(table_name = customers)]
struct NewCustomer<'a> {
    email: &'a str,
}

fn main() {}

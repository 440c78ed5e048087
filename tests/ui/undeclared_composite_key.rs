use fk_safe::FkOrdered;

diesel::table! { stock (warehouse, sku) { warehouse -> Text, sku -> Text, quantity -> BigInt } }

// A composite key must be named, and chosen by the client.
#[derive(FkOrdered)]
#[diesel(table_name = stock)]
struct NewStock {
    quantity: i64,
}

fn main() {}

// A column_name string must be a column's name (an identifier, or a keyword
// Diesel's table! declares as a raw one).
use fk_safe::FkOrdered;

diesel::table! { notes (id) { id -> BigInt, body -> Text } }

#[derive(FkOrdered)]
#[diesel(table_name = notes)]
struct NewNote {
    #[diesel(column_name = "the body")]
    text: String,
}

fn main() {}

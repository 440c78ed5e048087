use fk_safe::FkOrdered;

diesel::table! { events (event_no) { event_no -> BigInt, id -> BigInt, title -> Text } }

// `id` is an ordinary column here; the table's key is `event_no`.
#[derive(FkOrdered)]
#[diesel(table_name = events)]
struct NewEvent {
    id: i64,
    title: String,
}

fn main() {}

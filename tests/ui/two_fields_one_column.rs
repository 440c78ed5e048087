// Two fields written to one column would name it twice in the insert.
use fk_safe::FkOrdered;

diesel::table! { posts (id) { id -> BigInt, author_id -> BigInt, title -> Text } }

#[derive(FkOrdered)]
#[diesel(table_name = posts)]
struct NewPost {
    author_id: i64,
    #[diesel(column_name = author_id)]
    writer: i64,
    title: String,
    // Not written, so it does not count.
    #[diesel(skip_insertion, column_name = title)]
    heading: String,
}

fn main() {}

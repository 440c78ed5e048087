use fk_safe::FkOrdered;

diesel::table! { tags (code) { code -> Text, label -> Text } }

// The table's key is `code`, and the model carries it without saying so.
#[derive(FkOrdered)]
#[diesel(table_name = tags)]
struct NewTag {
    code: String,
    label: String,
}

fn main() {}

//! Snapshots of the derive's expansion for representative models (as
//! diesel_derives keeps them): a change to the generated code shows as a
//! diff of the pretty-printed output, to be read and accepted with
//! `cargo insta review` (or `INSTA_UPDATE=always`) when it is intended.

use syn::DeriveInput;

/// The expansion of `input`, pretty-printed. The output is one `const _`
/// item (or compile errors), so it always parses as a file.
fn expand(input: DeriveInput) -> String {
    let tokens = crate::derive(&input);
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        // Not a file: keep the tokens, so that the snapshot still shows them.
        Err(_) => tokens.to_string(),
    }
}

#[test]
fn plain_model() {
    insta::assert_snapshot!(expand(syn::parse_quote! {
        #[derive(Insertable, FkOrdered)]
        #[diesel(table_name = authors)]
        struct NewAuthor {
            name: String,
        }
    }));
}

#[test]
fn belongs_to_with_column_name() {
    insta::assert_snapshot!(expand(syn::parse_quote! {
        #[derive(Insertable, Associations, FkOrdered)]
        #[diesel(table_name = posts)]
        #[diesel(belongs_to(Author, foreign_key = author_id))]
        struct NewPost {
            #[diesel(column_name = author_id)]
            writer: i64,
            title: String,
        }
    }));
}

#[test]
fn relations_to_tables_and_a_renamed_belongs_to() {
    insta::assert_snapshot!(expand(syn::parse_quote! {
        #[derive(Insertable, FkOrdered)]
        #[diesel(table_name = comments)]
        #[diesel(belongs_to(Post))]
        #[fk(relation(name = post, foreign_key = post_id))]
        #[fk(relation(name = reply_to, parent = comments, foreign_key = reply_to_id))]
        #[fk(relation(name = author, parent = schema::authors, foreign_key = author_id))]
        struct NewComment {
            post_id: i64,
            reply_to_id: Option<i64>,
            author_id: i64,
            body: String,
        }
    }));
}

#[test]
fn composite_key_relation() {
    insta::assert_snapshot!(expand(syn::parse_quote! {
        #[derive(Insertable, FkOrdered)]
        #[diesel(table_name = post_tags)]
        #[fk(relation(name = tag, parent = tags, foreign_key(tenant_id, tag_slug)))]
        struct NewPostTag {
            tag_slug: String,
            tenant_id: i64,
        }
    }));
}

#[test]
fn composite_own_key() {
    insta::assert_snapshot!(expand(syn::parse_quote! {
        #[derive(Insertable, FkOrdered)]
        #[diesel(table_name = tags)]
        #[diesel(primary_key(tenant_id, slug))]
        struct NewTag {
            tenant_id: i64,
            slug: String,
            label: String,
        }
    }));
}

#[test]
fn natural_key() {
    insta::assert_snapshot!(expand(syn::parse_quote! {
        #[derive(Insertable, FkOrdered)]
        #[diesel(table_name = customers)]
        #[fk(natural_key(tenant, email))]
        struct NewCustomer {
            tenant: i64,
            email: String,
            name: String,
        }
    }));
}

#[test]
fn uuid_key() {
    insta::assert_snapshot!(expand(syn::parse_quote! {
        #[derive(Insertable, FkOrdered)]
        #[diesel(table_name = documents)]
        #[fk(key = uuid::Uuid)]
        #[fk(relation(name = folder, parent = folders, foreign_key = folder_id))]
        struct NewDocument {
            folder_id: uuid::Uuid,
            title: String,
        }
    }));
}

#[test]
fn text_key_carried_by_the_model() {
    insta::assert_snapshot!(expand(syn::parse_quote! {
        #[derive(Insertable, FkOrdered)]
        #[diesel(table_name = labels)]
        #[diesel(primary_key(code))]
        struct NewLabel {
            code: String,
            #[diesel(skip_insertion)]
            cached: i32,
            title: String,
        }
    }));
}

#[test]
fn default_and_null_fields() {
    insta::assert_snapshot!(expand(syn::parse_quote! {
        #[derive(Insertable, FkOrdered)]
        #[diesel(table_name = tasks)]
        #[fk(relation(name = parent, parent = tasks, foreign_key = parent_id))]
        struct NewTask {
            // Left to its DEFAULT when None (Diesel's default).
            priority: Option<i32>,
            // Written as NULL when None.
            #[diesel(treat_none_as_default_value = false)]
            note: Option<String>,
            parent_id: Option<i64>,
            #[diesel(column_name = "type")]
            kind: String,
        }
    }));
}

#[test]
fn fallback_beside_an_error() {
    // The error, then impls that keep the model's uses compiling: the
    // relations resolved, so their constants and References are there too.
    insta::assert_snapshot!(expand(syn::parse_quote! {
        #[derive(Insertable, FkOrdered)]
        #[diesel(table_name = posts)]
        #[fk(natural_key(title), natural_key(title))]
        #[fk(relation(parent = authors, foreign_key = author_id))]
        struct NewPost {
            author_id: i64,
            title: String,
        }
    }));
}

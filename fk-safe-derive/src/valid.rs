//! The check stage: one function per rule, each reporting its mistakes in
//! the [`Ctxt`] at their spans with a `help:` line, so that a user sees
//! every one at once. Only a model that breaks no rule is expanded.
//!
//! The rules on the parsed input ([`check_input`]) run before names are
//! resolved; the rules that need the resolved relations ([`check_model`])
//! after.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::spanned::Spanned;

use crate::ast::Input;
use crate::ctxt::Ctxt;
use crate::model::{self, Model};

/// Fields up to this position can be left out (DEFAULT) row by row: the
/// runtime keeps a row's left-out columns in one `u64`.
pub(crate) const MAX_DEFAULTED_POSITION: usize = 64;

/// The rules that the parsed input alone decides.
pub(crate) fn check_input(cx: &Ctxt, input: &Input) {
    if !struct_with_named_fields(cx, input) {
        return;
    }
    not_generic(cx, input);
    table_name_given(cx, input);
    field_attributes_supported(cx, input);
    columns_written_once(cx, input);
    primary_key_names_columns(cx, input);
    composite_key_chosen_by_the_client(cx, input);
    natural_key_names_fields(cx, input);
    defaulted_fields_fit(cx, input);
}

/// The rules on the resolved relations.
pub(crate) fn check_model(cx: &Ctxt, model: &Model) {
    relation_names_distinct(cx, model);
    natural_key_not_a_foreign_key(cx, model);
}

/// The model is a struct with named fields: they are the columns it writes.
/// The other rules need them, so they run only when this one holds.
fn struct_with_named_fields(cx: &Ctxt, input: &Input) -> bool {
    if input.fields.is_some() {
        return true;
    }
    cx.error_help(
        input.original.ident.span(),
        "#[derive(FkOrdered)] needs a struct with named fields",
        "derive it on the struct you insert, e.g. `struct NewOrder { customer_id: i64, total: i64 }`",
    );
    false
}

/// The model has no lifetime or type parameters: a graph owns its rows
/// (`'static`) until `insert_graph` writes them, and one model is one set of
/// column types.
fn not_generic(cx: &Ctxt, input: &Input) {
    let generics = &input.original.generics;
    if generics.lifetimes().next().is_some() && generics.type_params().next().is_none() {
        cx.error_help(
            generics.span(),
            "#[derive(FkOrdered)] does not support borrowed fields",
            "a graph owns its rows until insert_graph writes them: use owned fields (String, Vec<u8>) instead of &str and &[u8]",
        );
    } else if !generics.params.is_empty() {
        cx.error_help(
            generics.span(),
            "#[derive(FkOrdered)] does not support generic models",
            "derive it on a concrete struct; wrap generic data in a concrete Insertable struct",
        );
    }
}

/// The model names the table it is inserted into with
/// `#[diesel(table_name = ..)]` (fk-safe has no default for it).
fn table_name_given(cx: &Ctxt, input: &Input) {
    if input.attrs.table_name.is_none() {
        let ident = &input.original.ident;
        cx.error_help(
            ident.span(),
            format!("missing #[diesel(table_name = ..)] on `{ident}`"),
            "name the table! module this model is inserted into, e.g. #[diesel(table_name = orders)]",
        );
    }
}

/// No field uses Diesel's `embed` or `serialize_as`: fk-safe writes each
/// field to its own column, as its own type.
fn field_attributes_supported(cx: &Ctxt, input: &Input) {
    for field in input.fields.iter().flatten() {
        for (span, key) in &field.attrs.unsupported {
            cx.error_help(
                *span,
                format!("#[diesel({key})] is not supported by #[derive(FkOrdered)]"),
                "insert such a model with plain Diesel, or flatten the field into the struct",
            );
        }
    }
}

/// No two inserted fields are written to one column (by `column_name`, or
/// a field named as another's column): the insert would name the column
/// twice.
fn columns_written_once(cx: &Ctxt, input: &Input) {
    let Some(fields) = input.inserted_fields() else {
        return;
    };
    for (position, field) in fields.iter().enumerate() {
        if let Some(first) = fields[..position]
            .iter()
            .find(|f| f.column() == field.column())
        {
            cx.error_help(
                field.ident.span(),
                format!(
                    "fields `{}` and `{}` are both written to column `{}`",
                    first.ident,
                    field.ident,
                    field.column()
                ),
                "a column is written by one field: remove one, mark it #[diesel(skip_insertion)], or give it its own #[diesel(column_name = ..)]",
            );
        }
    }
}

/// `#[diesel(primary_key(..))]` names at least one column.
fn primary_key_names_columns(cx: &Ctxt, input: &Input) {
    if let Some((span, columns)) = &input.attrs.primary_key {
        if columns.is_empty() {
            cx.error_help(
                *span,
                "#[diesel(primary_key())] names no column",
                "list the key columns, e.g. #[diesel(primary_key(id))], or leave primary_key out for the table's own key",
            );
        }
    }
}

/// Every column of a composite primary key is an inserted field: only a
/// single-column key can be generated by the database.
fn composite_key_chosen_by_the_client(cx: &Ctxt, input: &Input) {
    let (Some((span, columns)), Some(fields)) = (&input.attrs.primary_key, input.inserted_fields())
    else {
        return;
    };
    if columns.len() > 1 && model::own_key(columns, &fields).len() != columns.len() {
        cx.error_help(
            *span,
            "a composite primary key must be chosen by the client",
            format!(
                "add every key column to `{}` as a field; only single-column keys can be generated by the database",
                input.original.ident
            ),
        );
    }
}

/// `#[fk(natural_key(..))]` names at least one field.
fn natural_key_names_fields(cx: &Ctxt, input: &Input) {
    if let Some((span, names)) = &input.attrs.natural_key {
        if names.is_empty() {
            cx.error_help(
                *span,
                "#[fk(natural_key())] names no field",
                "list the fields that identify a row, e.g. #[fk(natural_key(email))]",
            );
        }
    }
}

/// A field whose `None` is written as DEFAULT is among the first
/// [`MAX_DEFAULTED_POSITION`] inserted fields.
fn defaulted_fields_fit(cx: &Ctxt, input: &Input) {
    let Some(fields) = input.inserted_fields() else {
        return;
    };
    let ident = &input.original.ident;
    let defaulted = model::default_when_none(input, &fields);
    for (position, field) in fields.iter().enumerate() {
        if defaulted[position] && position >= MAX_DEFAULTED_POSITION {
            cx.error_help(
                field.ident.span(),
                format!(
                    "`{}` is field #{} of `{ident}`: fk-safe writes DEFAULT for `None` only in the first {MAX_DEFAULTED_POSITION} fields",
                    field.ident,
                    position + 1
                ),
                "move the Option fields that may be DEFAULT up, or write NULL for this one with #[diesel(treat_none_as_default_value = false)]",
            );
        }
    }
}

/// No two relations have the same name, whatever its case: each becomes an
/// upper-case associated constant of the model.
fn relation_names_distinct(cx: &Ctxt, model: &Model) {
    let mut names: HashMap<String, Span> = HashMap::new();
    for relation in &model.relations {
        let key = relation.name.to_string().to_uppercase();
        if names.insert(key, relation.name.span()).is_some() {
            cx.error_help(
                relation.name.span(),
                format!(
                    "ambiguous relation: two relations of `{}` are named `{}`",
                    model.ident, relation.name
                ),
                "give each relation its own name with #[fk(relation(name = .., foreign_key = ..))]",
            );
        }
    }
}

/// No natural-key field is a foreign key: a natural key finds a row before
/// the graph is written, and a foreign key's value is known only after its
/// parent is.
fn natural_key_not_a_foreign_key(cx: &Ctxt, model: &Model) {
    for field in &model.natural_key {
        if model.relations.iter().any(|r| r.has_field(field)) {
            cx.error_help(
                field.ident.span(),
                format!("natural-key field `{}` is a foreign key", field.ident),
                "a foreign key's value is known only once its parent is written; use fields of the row itself (an external reference, an email, a code)",
            );
        }
    }
}

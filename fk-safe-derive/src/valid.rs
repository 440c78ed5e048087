//! Checks: every mistake in the attributes becomes an error at its span
//! with a `help:` line, and only a model without mistakes is expanded.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Ident, Path, Type};

use crate::ast::{Field, Input};
use crate::ctxt::Ctxt;

/// A model ready to expand.
pub(crate) struct Model<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) table: Path,
    pub(crate) key_column: Ident,
    pub(crate) key_type: Type,
    /// The fields written by an insert, in order.
    pub(crate) fields: Vec<&'a Field<'a>>,
    pub(crate) relations: Vec<Relation<'a>>,
    /// The key column is one of the fields: keys are known before the insert.
    pub(crate) own_key: Option<&'a Field<'a>>,
    /// Fields that identify a row without its id (`#[fk(natural_key(..))]`).
    pub(crate) natural_key: Vec<&'a Field<'a>>,
}

pub(crate) struct Relation<'a> {
    pub(crate) name: Ident,
    pub(crate) parent: Path,
    pub(crate) field: &'a Field<'a>,
    /// The foreign-key ident as written (or the struct's, when defaulted),
    /// for spans.
    pub(crate) span: Span,
    /// No other relation of the model has this parent type, so
    /// `.parent(handle)` can pick it.
    pub(crate) sole_to_parent: bool,
}

pub(crate) fn check<'a>(cx: &Ctxt, input: &'a Input<'a>) -> Option<Model<'a>> {
    let ident = &input.original.ident;
    let Some(all_fields) = &input.fields else {
        cx.error_help(
            ident.span(),
            "#[derive(FkOrdered)] needs a struct with named fields",
            "derive it on the struct you insert, e.g. `struct NewOrder { customer_id: i64, total: i64 }`",
        );
        return None;
    };
    if !input.original.generics.params.is_empty() {
        cx.error_help(
            input.original.generics.span(),
            "#[derive(FkOrdered)] does not support generic models",
            "derive it on a concrete struct; wrap generic data in a concrete Insertable struct",
        );
    }
    let table = match &input.attrs.table_name {
        Some(table) => Some(table.clone()),
        None => {
            cx.error_help(
                ident.span(),
                format!("missing #[diesel(table_name = ..)] on `{ident}`"),
                "name the table! module this model is inserted into, e.g. #[diesel(table_name = orders)]",
            );
            None
        }
    };
    for field in all_fields {
        for (span, key) in &field.attrs.unsupported {
            cx.error_help(
                *span,
                format!("#[diesel({key})] is not supported by #[derive(FkOrdered)]"),
                "insert such a model with plain Diesel, or flatten the field into the struct",
            );
        }
    }
    let fields: Vec<&Field> = all_fields
        .iter()
        .filter(|f| !f.attrs.skip_insertion)
        .collect();

    let (key_column, key_span) = match &input.attrs.primary_key {
        None => (Ident::new("id", ident.span()), ident.span()),
        Some((span, columns)) if columns.len() == 1 => (columns[0].clone(), *span),
        Some((span, _)) => {
            cx.error_help(
                *span,
                "#[derive(FkOrdered)] does not support composite primary keys yet",
                "give the table a single generated key column (serial, identity or INTEGER PRIMARY KEY)",
            );
            (Ident::new("id", *span), *span)
        }
    };
    let _ = key_span;
    let own_key = fields.iter().copied().find(|f| *f.column() == key_column);
    let key_type = input
        .attrs
        .key
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(i64));

    let mut natural_key = Vec::new();
    if let Some((span, names)) = &input.attrs.natural_key {
        if names.is_empty() {
            cx.error_help(
                *span,
                "#[fk(natural_key())] names no field",
                "list the fields that identify a row, e.g. #[fk(natural_key(email))]",
            );
        }
        for name in names {
            match fields.iter().copied().find(|f| f.ident == name) {
                Some(field) => natural_key.push(field),
                None => {
                    cx.error_help(
                        name.span(),
                        format!("unknown natural-key field `{name}` on `{ident}`"),
                        format!(
                        "natural_key lists fields of `{ident}` backed by a UNIQUE constraint: {}",
                        fields.iter().map(|f| f.ident.to_string()).collect::<Vec<_>>().join(", ")
                    ),
                    )
                }
            }
        }
    }
    let relations = relations(cx, ident, input, &fields);
    if let Some(relations) = &relations {
        for field in &natural_key {
            if relations.iter().any(|r| r.field.ident == field.ident) {
                cx.error_help(
                    field.ident.span(),
                    format!("natural-key field `{}` is a foreign key", field.ident),
                    "a foreign key's value is known only once its parent is written; use fields of the row itself (an external reference, an email, a code)",
                );
            }
        }
    }
    let table = table?;
    Some(Model {
        ident,
        table,
        key_column,
        key_type,
        fields,
        relations: relations?,
        own_key,
        natural_key,
    })
}

fn relations<'a>(
    cx: &Ctxt,
    ident: &Ident,
    input: &'a Input<'a>,
    fields: &[&'a Field<'a>],
) -> Option<Vec<Relation<'a>>> {
    let field_names = || {
        fields
            .iter()
            .map(|f| f.ident.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut ok = true;
    let mut relations: Vec<Relation> = Vec::new();
    for belongs in &input.attrs.belongs_to {
        let (fk, span) = match &belongs.foreign_key {
            Some(fk) => (fk.clone(), fk.span()),
            None => {
                let default = default_foreign_key(&belongs.parent);
                let span = belongs.parent.span();
                (Ident::new(&default, span), span)
            }
        };
        let Some(field) = fields.iter().copied().find(|f| *f.ident == fk) else {
            let skipped = input
                .fields
                .iter()
                .flatten()
                .any(|f| *f.ident == fk && f.attrs.skip_insertion);
            if skipped {
                cx.error_help(
                    span,
                    format!("foreign-key field `{fk}` is marked #[diesel(skip_insertion)]"),
                    "a foreign key fk-safe fills must be inserted; remove skip_insertion",
                );
            } else {
                cx.error_help(
                    span,
                    format!("unknown foreign-key field `{fk}` on `{ident}`"),
                    format!(
                        "set foreign_key to one of the fields of `{ident}`: {}",
                        field_names()
                    ),
                );
            }
            ok = false;
            continue;
        };
        if relations.iter().any(|r| *r.field.ident == fk) {
            cx.error_help(
                span,
                format!("ambiguous relation: foreign key `{fk}` appears in two belongs_to"),
                "a field can point at one parent only; remove one belongs_to",
            );
            ok = false;
            continue;
        }
        relations.push(Relation {
            name: fk.clone(),
            parent: belongs.parent.clone(),
            field,
            span,
            sole_to_parent: true,
        });
    }
    for named in &input.attrs.relations {
        match relations
            .iter_mut()
            .find(|r| *r.field.ident == named.foreign_key)
        {
            Some(relation) => relation.name = named.name.clone(),
            None => {
                cx.error_help(
                    named.foreign_key.span(),
                    format!(
                        "no belongs_to of `{ident}` uses foreign key `{}`",
                        named.foreign_key
                    ),
                    format!(
                        "declare it first: #[diesel(belongs_to(Parent, foreign_key = {}))]",
                        named.foreign_key
                    ),
                );
                ok = false;
            }
        }
    }
    let mut names: HashMap<String, Span> = HashMap::new();
    for relation in &relations {
        let key = relation.name.to_string().to_uppercase();
        if names.insert(key, relation.name.span()).is_some() {
            cx.error_help(
                relation.name.span(),
                format!(
                    "ambiguous relation: two relations of `{ident}` are named `{}`",
                    relation.name
                ),
                "give each relation its own name with #[fk(relation(name = .., foreign_key = ..))]",
            );
            ok = false;
        }
    }
    let parents: Vec<String> = relations.iter().map(|r| path_key(&r.parent)).collect();
    for (i, relation) in relations.iter_mut().enumerate() {
        relation.sole_to_parent = parents.iter().filter(|p| **p == parents[i]).count() == 1;
    }
    ok.then_some(relations)
}

/// Diesel's default foreign key for `belongs_to(UserProfile)`: `user_profile_id`.
fn default_foreign_key(parent: &Path) -> String {
    let name = parent
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    let mut snake = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                snake.push('_');
            }
            snake.extend(c.to_lowercase());
        } else {
            snake.push(c);
        }
    }
    snake.push_str("_id");
    snake
}

fn path_key(path: &Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

//! Compile-time checks against the schema, which the derive cannot read:
//! each is a `const _` that fails to compile, at the attribute's or field's
//! span, when the `table!` contradicts the model.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::{column_name, metadata::table_key_name, parent_table};
use crate::attr::Parent;
use crate::model::Model;

/// A parent named by a type is a Diesel table or an `Identifiable` struct
/// of one: checked on its own, at the parent as written, so that the
/// error says how to name the parent whatever else fails with it.
pub(super) fn parents_name_tables<'m>(model: &'m Model) -> impl Iterator<Item = TokenStream> + 'm {
    model.relations.iter().filter_map(|r| match &r.parent {
        Parent::Type(path) => Some(quote_spanned! {r.span=>
            const _: () = {
                fn names_a_table<T: __fk::ParentTable>() {}
                let _ = names_a_table::<#path>;
            };
        }),
        Parent::Table(_) => None,
    })
}

/// Each foreign-key column has the SQL type of its part of the parent's key.
pub(super) fn key_types<'m>(model: &'m Model) -> impl Iterator<Item = TokenStream> + 'm {
    model.relations.iter().map(move |r| {
        let parent = parent_table(&r.parent);
        let parent_key = quote! {
            <<#parent as __fk::diesel::Table>::PrimaryKey
                as __fk::diesel::Expression>::SqlType
        };
        let checks = r.fields.iter().enumerate().map(|(part, f)| {
            let table = &model.table;
            let column = f.column();
            let parent_part = if r.fields.len() == 1 {
                parent_key.clone()
            } else {
                quote!(<#parent_key as __fk::KeyColumnSql<#part>>::Sql)
            };
            let span = r.part_spans.get(part).copied().unwrap_or(r.span);
            // The column's type is written inside the span, so that a
            // mismatch points at the foreign key as written.
            quote_spanned! {span=>
                const _: () = __fk::assert_same_key_type::<
                    <#table::#column as __fk::diesel::Expression>::SqlType,
                    #parent_part,
                >();
            }
        });
        quote!(#(#checks)*)
    })
}

/// Without `primary_key(..)`, the row's own key is its `id` field, and that
/// is right only when `id` is the table's key: a field holding the table's
/// key under another name, or an `id` field that is not the key, would be
/// written without fk-safe knowing which value is the row's key.
pub(super) fn undeclared_key<'m>(model: &'m Model) -> impl Iterator<Item = TokenStream> + 'm {
    let table_key_name = table_key_name(model);
    model
        .fields
        .iter()
        .filter(|_| !model.key_declared)
        .map(move |f| {
            let column = f.column();
            let name = column_name(model, column);
            if column == "id" {
                let message = format!(
                    "field `{}` is on column `id`, which is not the primary key of its table: name the key with #[diesel(primary_key(..))] so that fk-safe does not take `id` for the row's own key",
                    f.ident
                );
                quote_spanned! {f.ident.span()=>
                    const _: () = ::core::assert!(__fk::same_name(#table_key_name, #name), #message);
                }
            } else {
                let message = format!(
                    "field `{}` holds the primary key of its table: declare it with #[diesel(primary_key({column}))], so that fk-safe uses it as the row's own key (its type is the field's)",
                    f.ident
                );
                quote_spanned! {f.ident.span()=>
                    const _: () = ::core::assert!(!__fk::same_name(#table_key_name, #name), #message);
                }
            }
        })
}

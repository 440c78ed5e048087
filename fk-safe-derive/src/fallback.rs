//! What the derive emits beside its errors (as thiserror-impl's
//! `fallback.rs` does): impls of fk-safe's traits for the model, so that the
//! user's other uses of it (`graph.add(row)`, `M: WriteRow<DB>`, its
//! relation constants) do not add "not implemented" errors to the ones that
//! say what to fix. Their bodies are never run, since the crate does not
//! compile; they return empty values rather than panic all the same.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::Input;
use crate::expand::{in_hidden_scope, references, relations};
use crate::model::{self, Model};

pub(crate) fn expand(input: &Input, model: Option<&Model>, errors: syn::Error) -> TokenStream {
    let original = input.original;
    let errors = errors.to_compile_error();
    // A generic or borrowed model gets no impls: they would need bounds
    // fk-safe does not know (and its rows cannot be 'static), so they would
    // add errors of their own.
    if !original.generics.params.is_empty() {
        return errors;
    }
    let ident = &original.ident;
    let model_name = ident.to_string();
    let table = match &input.attrs.table_name {
        Some(table) => quote!(#table::table),
        None => quote!(()),
    };
    let fields = input.inserted_fields().unwrap_or_default();
    let key_type = model::key_type(input, &fields);
    let natural_key = natural_key(input, &fields);
    let relation_items = model.map(relation_items);
    let impls = in_hidden_scope(quote! {
        #[automatically_derived]
        impl __fk::FkOrdered for #ident {
            type Table = #table;
            type Key = #key_type;
            const MODEL: &'static str = #model_name;
            const COLUMNS: &'static [&'static str] = &[];
            const KEY_COLUMN: &'static str = "";
            const RELATIONS: &'static [__fk::RelationInfo] = &[];
            const NATURAL_KEY: &'static [&'static str] = &[];

            fn parent_table(_: usize) -> ::core::option::Option<__fk::TypeId> {
                ::core::option::Option::None
            }

            fn foreign_key(&self, _: usize) -> ::core::option::Option<__fk::KeyValue> {
                ::core::option::Option::None
            }
        }

        #[automatically_derived]
        impl<__DB: __fk::FkBackend> __fk::WriteRow<__DB> for #ident {
            fn write_table(
                _: &mut __fk::diesel::query_builder::AstPass<'_, '_, __DB>,
            ) -> __fk::diesel::QueryResult<()> {
                ::core::result::Result::Ok(())
            }

            fn parent_sql(
                _: usize,
            ) -> __fk::diesel::QueryResult<::core::option::Option<__fk::ParentSql>> {
                ::core::result::Result::Ok(::core::option::Option::None)
            }

            fn write_natural_key_values<'__b>(
                &'__b self,
                _: &mut __fk::diesel::query_builder::AstPass<'_, '__b, __DB>,
            ) -> __fk::diesel::QueryResult<()> {
                ::core::result::Result::Ok(())
            }

            fn write_values<'__b>(
                &'__b self,
                _: &'__b [__fk::LinkedKey],
                _: u64,
                _: &mut __fk::diesel::query_builder::AstPass<'_, '__b, __DB>,
            ) -> __fk::diesel::QueryResult<()> {
                ::core::result::Result::Ok(())
            }
        }

        #natural_key

        #relation_items
    });
    quote! {
        #errors
        #impls
    }
}

/// `HasNaturalKey` and `WriteNaturalKey`, when every name in
/// `natural_key(..)` is an inserted field (else the key's type is unknown).
fn natural_key(input: &Input, fields: &[&crate::ast::Field]) -> Option<TokenStream> {
    let ident = &input.original.ident;
    let (_, names) = input.attrs.natural_key.as_ref()?;
    let types = names
        .iter()
        .map(|name| fields.iter().find(|f| f.ident == name).map(|f| f.ty))
        .collect::<Option<Vec<_>>>()?;
    let key_type = match types.as_slice() {
        [] => return None,
        [single] => quote!(#single),
        several => quote!((#(#several,)*)),
    };
    Some(quote! {
        #[automatically_derived]
        impl __fk::HasNaturalKey for #ident {
            type NaturalKey = #key_type;

            fn key_text(_: &Self::NaturalKey) -> ::std::string::String {
                ::std::string::String::new()
            }
        }

        #[automatically_derived]
        impl<__DB: __fk::FkBackend> __fk::WriteNaturalKey<__DB> for #ident {
            fn write_key_values<'__b>(
                _: &'__b Self::NaturalKey,
                _: &mut __fk::diesel::query_builder::AstPass<'_, '__b, __DB>,
            ) -> __fk::diesel::QueryResult<()> {
                ::core::result::Result::Ok(())
            }
        }
    })
}

/// The relation constants and `References` impls of a model whose names
/// all resolved (a rule failed): `.parent(handle)` and `Model::RELATION`
/// keep compiling. Of two relations whose constants would clash (itself an
/// error), the first keeps its constant.
fn relation_items(model: &Model) -> TokenStream {
    let ident = model.ident;
    let mut names = Vec::new();
    let distinct: Vec<_> = model
        .relations
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            let name = relations::constant_name(r).to_string();
            let first = !names.contains(&name);
            names.push(name);
            first
        })
        .collect();
    let constants = distinct
        .iter()
        .map(|(index, relation)| relations::constant(model, *index, relation));
    let references = references::impls(model);
    quote! {
        #(#references)*

        impl #ident {
            #(#constants)*
        }
    }
}

//! The natural key (`#[fk(natural_key(..))]`): the impls that let
//! `Graph::lookup` and `Graph::get_or_insert` find rows by it, and the
//! values a row writes when it is looked up by its own.

use proc_macro2::TokenStream;
use quote::quote;

use super::sql_type;
use crate::model::Model;

/// `HasNaturalKey` and `WriteNaturalKey`, for a model with a natural key.
pub(super) fn impls(model: &Model) -> Option<TokenStream> {
    if model.natural_key.is_empty() {
        return None;
    }
    let ident = model.ident;
    let types: Vec<_> = model.natural_key.iter().map(|f| f.ty).collect();
    let single = model.natural_key.len() == 1;
    let key_type = if single {
        let ty = types[0];
        quote!(#ty)
    } else {
        quote!((#(#types,)*))
    };
    let (text_parts, value_parts): (Vec<_>, Vec<_>) = model
        .natural_key
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let ty = f.ty;
            let st = sql_type(model, f.column());
            let access = if single {
                quote!(key)
            } else {
                let index = syn::Index::from(i);
                quote!(&key.#index)
            };
            let separator = (i > 0).then(|| quote!(out.push_sql(", ");));
            (
                quote!(<#ty as __fk::NaturalKeyValue>::key_text(#access)),
                quote! {
                    #separator
                    out.push_bind_param::<#st, #ty>(#access)?;
                },
            )
        })
        .unzip();
    let bounds = model.natural_key.iter().map(|f| {
        let ty = f.ty;
        let st = sql_type(model, f.column());
        quote!(#ty: __fk::diesel::serialize::ToSql<#st, __DB>, __DB: __fk::diesel::sql_types::HasSqlType<#st>,)
    });
    Some(quote! {
        impl __fk::HasNaturalKey for #ident {
            type NaturalKey = #key_type;

            fn key_text(key: &Self::NaturalKey) -> ::std::string::String {
                __fk::join_natural_key(&[#(#text_parts),*])
            }
        }

        impl<__DB> __fk::WriteNaturalKey<__DB> for #ident
        where
            Self: __fk::WriteRow<__DB>,
            __DB: __fk::diesel::backend::Backend,
            #(#bounds)*
        {
            fn write_key_values<'__b>(
                key: &'__b Self::NaturalKey,
                out: &mut __fk::diesel::query_builder::AstPass<'_, '__b, __DB>,
            ) -> __fk::diesel::QueryResult<()> {
                #(#value_parts)*
                ::core::result::Result::Ok(())
            }
        }
    })
}

/// The statements of `WriteRow::write_natural_key_values`: a row's own
/// natural-key values, as binds (none without a natural key).
pub(super) fn row_values(model: &Model) -> TokenStream {
    let values = model.natural_key.iter().enumerate().map(|(i, f)| {
        let name = f.ident;
        let ty = f.ty;
        let st = sql_type(model, f.column());
        let separator = (i > 0).then(|| quote!(out.push_sql(", ");));
        quote! {
            #separator
            out.push_bind_param::<#st, #ty>(&self.#name)?;
        }
    });
    quote!(#(#values)*)
}

//! The `WriteRow<DB>` impl: how a row is written by any backend its field
//! types support, each foreign key from its linked parent's key.

use proc_macro2::TokenStream;
use quote::quote;

use super::{natural_key, parent_table, parent_table_value, sql_type};
use crate::ast::{is_option, option_inner, Field};
use crate::model::Model;

pub(super) fn write_row(model: &Model) -> TokenStream {
    let ident = model.ident;
    let table = &model.table;
    let bounds = model
        .fields
        .iter()
        .enumerate()
        .map(|(i, field)| field_bounds(model, i, field));
    let parent_bounds = model.relations.iter().map(|r| {
        let parent = parent_table(&r.parent);
        quote! {
            #parent: __fk::diesel::query_builder::QueryFragment<__DB>,
            <#parent as __fk::diesel::Table>::PrimaryKey:
                __fk::diesel::query_builder::QueryFragment<__DB>,
        }
    });
    let parent_sql_arms = model.relations.iter().enumerate().map(|(i, r)| {
        let table = parent_table_value(&r.parent);
        quote! {
            #i => {
                let table = #table;
                ::core::result::Result::Ok(::core::option::Option::Some(__fk::ParentSql {
                    table: <__DB as __fk::InsertSql>::render(&table)?,
                    key: <__DB as __fk::InsertSql>::render(&__fk::diesel::Table::primary_key(&table))?,
                }))
            }
        }
    });
    let natural_values = natural_key::row_values(model);
    let write_values = model
        .fields
        .iter()
        .enumerate()
        .map(|(i, field)| write_value(model, i, field));
    quote! {
        impl<__DB> __fk::WriteRow<__DB> for #ident
        where
            __DB: __fk::FkBackend,
            #table::table: __fk::diesel::query_builder::QueryFragment<__DB>,
            #(#bounds)*
            #(#parent_bounds)*
        {
            fn write_table(
                out: &mut __fk::diesel::query_builder::AstPass<'_, '_, __DB>,
            ) -> __fk::diesel::QueryResult<()> {
                __fk::diesel::query_builder::QueryFragment::<__DB>::walk_ast(&#table::table, out.reborrow())
            }

            fn parent_sql(
                relation: usize,
            ) -> __fk::diesel::QueryResult<::core::option::Option<__fk::ParentSql>> {
                match relation {
                    #(#parent_sql_arms)*
                    _ => ::core::result::Result::Ok(::core::option::Option::None),
                }
            }

            fn write_natural_key_values<'__b>(
                &'__b self,
                out: &mut __fk::diesel::query_builder::AstPass<'_, '__b, __DB>,
            ) -> __fk::diesel::QueryResult<()> {
                let _ = &out;
                #natural_values
                ::core::result::Result::Ok(())
            }

            fn write_values<'__b>(
                &'__b self,
                links: &'__b [__fk::LinkedKey],
                omitted: u64,
                out: &mut __fk::diesel::query_builder::AstPass<'_, '__b, __DB>,
            ) -> __fk::diesel::QueryResult<()> {
                let _ = (links, omitted);
                let mut written = 0usize;
                #(#write_values)*
                let _ = written;
                ::core::result::Result::Ok(())
            }
        }
    }
}

/// What the backend must support for field `position`: the values
/// `write_value` binds.
fn field_bounds(model: &Model, position: usize, field: &Field) -> TokenStream {
    let ty = field.ty;
    let st = sql_type(model, field.column());
    let nullable = quote!(<#st as __fk::diesel::sql_types::IntoNullable>::Nullable);
    // The inner value of a field Diesel writes as DEFAULT when None, and
    // NULL of the nullable SQL type for an Option (a link closing a cycle,
    // or a None that was not left out).
    let value_bound = if model.default_when_none[position] {
        let inner = option_inner(ty);
        quote!(#inner: __fk::diesel::serialize::ToSql<#st, __DB>,)
    } else {
        quote!(#ty: __fk::diesel::serialize::ToSql<#st, __DB>,)
    };
    let is_foreign_key = model.relations.iter().any(|r| r.has_field(field));
    let null_bound = (is_option(ty) && is_foreign_key).then(|| {
        quote! {
            #ty: __fk::diesel::serialize::ToSql<#nullable, __DB>,
            __DB: __fk::diesel::sql_types::HasSqlType<#nullable>,
        }
    });
    quote! {
        #value_bound
        #null_bound
        __DB: __fk::diesel::sql_types::HasSqlType<#st>,
    }
}

/// The statements that write field `position`'s value (or its linked
/// parent's key), after a separator; none for a `None` left to DEFAULT.
fn write_value(model: &Model, position: usize, field: &Field) -> TokenStream {
    let name = field.ident;
    let ty = field.ty;
    let st = sql_type(model, field.column());
    let defaulted = model.default_when_none[position];
    let inner = option_inner(ty);
    // A value of the field itself: an Option Diesel writes as DEFAULT
    // binds its inner value (the column may be NOT NULL); its `None` was
    // left out of the statement by the caller.
    let own_value = if defaulted {
        quote! {
            match &self.#name {
                ::core::option::Option::Some(value) => out.push_bind_param::<#st, #inner>(value)?,
                ::core::option::Option::None => {
                    return ::core::result::Result::Err(__fk::diesel::result::Error::QueryBuilderError(
                        ::core::concat!("`", ::core::stringify!(#name), "` is None and must be left to its DEFAULT").into(),
                    ));
                }
            }
        }
    } else {
        quote!(out.push_bind_param::<#st, #ty>(&self.#name)?;)
    };
    let value = match model.relation_of(field) {
        Some((relation, part)) => {
            // A link written after the insert (it closes a cycle): the
            // foreign key is NULL until then, in the field's own type.
            let null = if is_option(ty) {
                quote! {
                    static NULL: #ty = ::core::option::Option::None;
                    out.push_bind_param::<<#st as __fk::diesel::sql_types::IntoNullable>::Nullable, #ty>(&NULL)?
                }
            } else {
                own_value.clone()
            };
            quote! {
                match __fk::LinkedKey::column_of(links, #relation, #part) {
                    __fk::LinkedColumn::AfterInsert => { #null }
                    __fk::LinkedColumn::Parent(key) => <__DB as __fk::InsertSql>::push_key(out, key)?,
                    __fk::LinkedColumn::Field => { #own_value }
                }
            }
        }
        None => own_value,
    };
    let write = quote! {
        if written > 0 {
            out.push_sql(", ");
        }
        written += 1;
        #value
    };
    if defaulted {
        let bit = 1u64 << position;
        quote! {
            if omitted & #bit == 0 {
                #write
            }
        }
    } else {
        write
    }
}

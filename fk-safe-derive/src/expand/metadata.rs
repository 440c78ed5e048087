//! The `FkOrdered` impl: what fk-safe knows of a model without a backend
//! (its table, columns, key and relations) and reads from a row.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::{column_name, key_of, parent_table};
use crate::ast::is_option;
use crate::model::Model;

pub(super) fn fk_ordered(model: &Model) -> TokenStream {
    let ident = model.ident;
    let table = &model.table;
    let key_type = &model.key_type;
    let model_name = ident.to_string();
    let key_name = key_column_name(model);
    let columns = model.fields.iter().map(|f| column_name(model, f.column()));
    let key_columns = key_columns(model);
    let relation_infos = model.relations.iter().map(|r| {
        let name = r.name.to_string();
        let parent = r
            .parent
            .path()
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect::<Vec<_>>()
            .join("::");
        let fields = r.fields.iter().map(|f| f.ident.to_string());
        let columns = r.fields.iter().map(|f| column_name(model, f.column()));
        // A link can be written NULL first (to break a cycle) only when the
        // field can hold NULL and the schema's column admits it.
        let nullable = r.fields.iter().all(|f| is_option(f.ty));
        let columns_nullable = r.fields.iter().map(|f| {
            let column = f.column();
            quote! {
                <<<#table::#column as __fk::diesel::Expression>::SqlType as __fk::diesel::sql_types::SqlType>::IsNull
                    as __fk::Nullability>::NULLABLE
            }
        });
        quote! {
            __fk::RelationInfo {
                name: #name,
                parent: #parent,
                fields: &[#(#fields),*],
                columns: &[#(#columns),*],
                nullable: #nullable #(&& #columns_nullable)*,
            }
        }
    });
    let natural_columns = model
        .natural_key
        .iter()
        .map(|f| column_name(model, f.column()));
    let parent_tables = model.relations.iter().enumerate().map(|(i, r)| {
        let parent = parent_table(&r.parent);
        quote!(#i => ::core::option::Option::Some(
            __fk::TypeId::of::<#parent>()
        ),)
    });
    let foreign_keys = model.relations.iter().enumerate().map(|(i, r)| {
        let key = key_of(&r.fields);
        quote_spanned!(r.span=> #i => #key,)
    });
    let own_key = own_key(model);
    let column_key = column_key(model);
    let natural_text = natural_key_text(model);
    let default_columns = default_columns(model);
    quote! {
        impl __fk::FkOrdered for #ident {
            type Table = #table::table;
            type Key = #key_type;
            const MODEL: &'static str = #model_name;
            const COLUMNS: &'static [&'static str] = &[
                #(#columns,)*
            ];
            const KEY_COLUMN: &'static str = #key_name;
            #key_columns
            const RELATIONS: &'static [__fk::RelationInfo] = &[#(#relation_infos,)*];
            const NATURAL_KEY: &'static [&'static str] = &[
                #(#natural_columns,)*
            ];

            fn parent_table(relation: usize) -> ::core::option::Option<__fk::TypeId> {
                match relation {
                    #(#parent_tables)*
                    _ => ::core::option::Option::None,
                }
            }

            fn foreign_key(&self, relation: usize) -> ::core::option::Option<__fk::KeyValue> {
                match relation {
                    #(#foreign_keys)*
                    _ => ::core::option::Option::None,
                }
            }

            #own_key

            #column_key

            #natural_text

            #default_columns
        }
    }
}

/// The SQL name of the table's primary key, which must be a single column.
pub(super) fn table_key_name(model: &Model) -> TokenStream {
    let table = &model.table;
    quote! {
        <<#table::table as __fk::diesel::Table>::PrimaryKey as __fk::SingleKeyColumn>::NAME
    }
}

/// The first key column's SQL name: the declared one, else the table's.
fn key_column_name(model: &Model) -> TokenStream {
    if model.key_declared {
        column_name(model, &model.key_column)
    } else {
        table_key_name(model)
    }
}

/// A composite key is read back whole, every column of it.
fn key_columns(model: &Model) -> Option<TokenStream> {
    (model.own_key.len() > 1).then(|| {
        let columns = model.own_key.iter().map(|f| column_name(model, f.column()));
        quote! {
            const KEY_COLUMNS: &'static [&'static str] = &[
                #(#columns,)*
            ];
        }
    })
}

/// A row's own key, when the model carries it in fields.
fn own_key(model: &Model) -> Option<TokenStream> {
    (!model.own_key.is_empty()).then(|| {
        let key = key_of(&model.own_key);
        quote! {
            fn own_key(&self) -> ::core::option::Option<__fk::KeyValue> {
                #key
            }
        }
    })
}

/// Every written column's value as a key, where its type can be one: the
/// input row behind a violation of a foreign key the model does not
/// declare is found by the columns and values the database names.
fn column_key(model: &Model) -> TokenStream {
    let column_keys = model.fields.iter().map(|f| {
        let name = f.ident;
        let column = column_name(model, f.column());
        quote! {
            if column == #column {
                return (&__fk::KeyProbe(&self.#name)).probe_key();
            }
        }
    });
    quote! {
        fn column_key(&self, column: &str) -> ::core::option::Option<::core::option::Option<__fk::KeyValue>> {
            use __fk::{ProbeAny as _, ProbeKey as _};
            #(#column_keys)*
            ::core::option::Option::None
        }
    }
}

/// A row's natural key as text, which the graph matches lookups by.
fn natural_key_text(model: &Model) -> Option<TokenStream> {
    (!model.natural_key.is_empty()).then(|| {
        let parts = model.natural_key.iter().map(|f| {
            let name = f.ident;
            let ty = f.ty;
            quote!(<#ty as __fk::NaturalKeyValue>::key_text(&self.#name))
        });
        quote! {
            fn natural_key_text(&self) -> ::core::option::Option<::std::string::String> {
                ::core::option::Option::Some(__fk::join_natural_key(&[#(#parts),*]))
            }
        }
    })
}

/// The bit of each field a row leaves to its DEFAULT (`None` where Diesel
/// writes DEFAULT); the check stage keeps those fields within the `u64`.
fn default_columns(model: &Model) -> TokenStream {
    let default_bits = model
        .fields
        .iter()
        .enumerate()
        .filter(|(i, _)| model.default_when_none[*i])
        .map(|(i, field)| {
            let name = field.ident;
            let bit = 1u64 << i;
            quote!(if self.#name.is_none() { bits |= #bit; })
        });
    quote! {
        fn default_columns(&self) -> u64 {
            let mut bits = 0u64;
            #(#default_bits)*
            bits
        }
    }
}

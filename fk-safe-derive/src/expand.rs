//! Code generation for a checked model: its metadata, the code that writes
//! its rows for any backend its field types support, and the typed links.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use crate::ast::{is_option, option_inner};
use crate::attr::Parent;
use crate::valid::Model;

/// The Diesel table type a relation's parent stands for.
fn parent_table(parent: &Parent) -> TokenStream {
    match parent {
        Parent::Type(path) => quote!(<#path as __fk::ParentTable>::Table),
        Parent::Table(path) => quote!(#path::table),
    }
}

/// That table as a value.
fn parent_table_value(parent: &Parent) -> TokenStream {
    match parent {
        Parent::Type(path) => quote!(<#path as __fk::ParentTable>::table()),
        Parent::Table(path) => quote!(#path::table),
    }
}

pub(crate) fn expand(model: &Model) -> TokenStream {
    let ident = model.ident;
    let table = &model.table;
    let key_type = &model.key_type;
    let key_column = &model.key_column;
    let table_key_name = quote! {
        <<#table::table as __fk::diesel::Table>::PrimaryKey as __fk::SingleKeyColumn>::NAME
    };
    let key_name = if model.key_declared {
        quote!(<#table::#key_column as __fk::diesel::Column>::NAME)
    } else {
        table_key_name.clone()
    };
    // Without `primary_key(..)`, the row's own key is its `id` field, and
    // that is right only when `id` is the table's key: a field holding the
    // table's key under another name, or an `id` field that is not the key,
    // would be written without fk-safe knowing which value is the row's key.
    let undeclared_key_checks = model
        .fields
        .iter()
        .filter(|_| !model.key_declared)
        .map(|f| {
            let column = f.column();
            let column_name = quote!(<#table::#column as __fk::diesel::Column>::NAME);
            if column == "id" {
                let message = format!(
                    "field `{}` is on column `id`, which is not the primary key of its table: name the key with #[diesel(primary_key(..))] so that fk-safe does not take `id` for the row's own key",
                    f.ident
                );
                quote_spanned! {f.ident.span()=>
                    const _: () = ::core::assert!(__fk::same_name(#table_key_name, #column_name), #message);
                }
            } else {
                let message = format!(
                    "field `{}` holds the primary key of its table: declare it with #[diesel(primary_key({column}))], so that fk-safe uses it as the row's own key (its type is the field's)",
                    f.ident
                );
                quote_spanned! {f.ident.span()=>
                    const _: () = ::core::assert!(!__fk::same_name(#table_key_name, #column_name), #message);
                }
            }
        });
    let model_name = ident.to_string();

    let columns: Vec<_> = model.fields.iter().map(|f| f.column()).collect();
    let sql_type =
        |column: &syn::Ident| quote!(<#table::#column as __fk::diesel::Expression>::SqlType);

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
        let columns = r.fields.iter().map(|f| f.column());
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
                columns: &[#(<#table::#columns as __fk::diesel::Column>::NAME),*],
                nullable: #nullable #(&& #columns_nullable)*,
            }
        }
    });
    let parent_tables = model.relations.iter().enumerate().map(|(i, r)| {
        let parent = parent_table(&r.parent);
        quote!(#i => ::core::option::Option::Some(
            __fk::TypeId::of::<#parent>()
        ),)
    });
    // A key as fk-safe carries it: one field's value, or the parts of a
    // composite key (NULL when any part is NULL).
    let key_of = |fields: &[&crate::ast::Field]| {
        let parts = fields.iter().map(|f| {
            let name = f.ident;
            let ty = f.ty;
            quote!(<#ty as __fk::ForeignKeyField>::key_value(&self.#name))
        });
        if fields.len() == 1 {
            quote!(#(#parts)*)
        } else {
            quote!(__fk::composite_key(::std::vec![#(#parts),*]))
        }
    };
    let foreign_keys = model.relations.iter().enumerate().map(|(i, r)| {
        let key = key_of(&r.fields);
        quote_spanned!(r.span=> #i => #key,)
    });
    let own_key = (!model.own_key.is_empty()).then(|| {
        let key = key_of(&model.own_key);
        quote! {
            fn own_key(&self) -> ::core::option::Option<__fk::KeyValue> {
                #key
            }
        }
    });

    // A composite key is read back whole, every column of it.
    let key_columns = (model.own_key.len() > 1).then(|| {
        let columns = model.own_key.iter().map(|f| f.column());
        quote! {
            const KEY_COLUMNS: &'static [&'static str] = &[
                #(<#table::#columns as __fk::diesel::Column>::NAME,)*
            ];
        }
    });
    // Every written column's value as a key, where its type can be one: the
    // input row behind a violation of a foreign key the model does not
    // declare is found by the columns and values the database names.
    let column_keys = model.fields.iter().map(|f| {
        let name = f.ident;
        let column = f.column();
        quote! {
            if column == <#table::#column as __fk::diesel::Column>::NAME {
                return (&__fk::KeyProbe(&self.#name)).probe_key();
            }
        }
    });
    let column_key = quote! {
        fn column_key(&self, column: &str) -> ::core::option::Option<::core::option::Option<__fk::KeyValue>> {
            use __fk::{ProbeAny as _, ProbeKey as _};
            #(#column_keys)*
            ::core::option::Option::None
        }
    };
    let natural_columns = model.natural_key.iter().map(|f| f.column());
    let natural_text = (!model.natural_key.is_empty()).then(|| {
        let parts = model.natural_key.iter().map(|f| {
            let name = f.ident;
            let ty = f.ty;
            quote!(<#ty as __fk::NaturalKeyPart>::key_text(&self.#name))
        });
        quote! {
            fn natural_key_text(&self) -> ::core::option::Option<::std::string::String> {
                ::core::option::Option::Some(__fk::join_natural_key(&[#(#parts),*]))
            }
        }
    });
    let natural_values = model.natural_key.iter().enumerate().map(|(i, f)| {
        let name = f.ident;
        let ty = f.ty;
        let st = sql_type(f.column());
        let separator = (i > 0).then(|| quote!(out.push_sql(", ");));
        quote! {
            #separator
            out.push_bind_param::<#st, #ty>(&self.#name)?;
        }
    });
    let has_natural_key = (!model.natural_key.is_empty()).then(|| {
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
                let column = f.column();
                let st = sql_type(column);
                let access = if single {
                    quote!(key)
                } else {
                    let index = syn::Index::from(i);
                    quote!(&key.#index)
                };
                let separator = (i > 0).then(|| quote!(out.push_sql(", ");));
                (
                    quote!(<#ty as __fk::NaturalKeyPart>::key_text(#access)),
                    quote! {
                        #separator
                        out.push_bind_param::<#st, #ty>(#access)?;
                    },
                )
            })
            .unzip();
        let bounds = model.natural_key.iter().map(|f| {
            let ty = f.ty;
            let st = sql_type(f.column());
            quote!(#ty: __fk::diesel::serialize::ToSql<#st, __DB>, __DB: __fk::diesel::sql_types::HasSqlType<#st>,)
        });
        quote! {
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
        }
    });
    let write_values = model.fields.iter().enumerate().map(|(i, field)| {
        let name = field.ident;
        let ty = field.ty;
        let st = sql_type(field.column());
        let defaulted = model.default_when_none[i];
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
        // The relation this field is a foreign key of, and its part of the key.
        let relation = model.relations.iter().enumerate().find_map(|(r, relation)| {
            relation
                .fields
                .iter()
                .position(|f| f.ident == field.ident)
                .map(|part| (r, part))
        });
        let value = match relation {
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
                    match links.get(#relation).and_then(|key| key.as_ref()).and_then(|key| key.part(#part)) {
                        ::core::option::Option::Some(__fk::KeyValue::Null) => { #null }
                        ::core::option::Option::Some(key) => <__DB as __fk::InsertSql>::push_key(out, key)?,
                        ::core::option::Option::None => { #own_value }
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
            let bit = 1u64 << i;
            quote! {
                if omitted & #bit == 0 {
                    #write
                }
            }
        } else {
            write
        }
    });
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
    let default_columns = quote! {
        fn default_columns(&self) -> u64 {
            let mut bits = 0u64;
            #(#default_bits)*
            bits
        }
    };
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
    let parent_bounds = model.relations.iter().map(|r| {
        let parent = parent_table(&r.parent);
        quote! {
            #parent: __fk::diesel::query_builder::QueryFragment<__DB>,
            <#parent as __fk::diesel::Table>::PrimaryKey:
                __fk::diesel::query_builder::QueryFragment<__DB>,
        }
    });
    let bounds = model.fields.iter().enumerate().map(|(i, field)| {
        let ty = field.ty;
        let st = sql_type(field.column());
        let nullable = quote!(<#st as __fk::diesel::sql_types::IntoNullable>::Nullable);
        // What write_values binds: the inner value of a field Diesel writes
        // as DEFAULT when None, and NULL of the nullable SQL type for an
        // Option (a link closing a cycle, or a None that was not left out).
        let value_bound = if model.default_when_none[i] {
            let inner = option_inner(ty);
            quote!(#inner: __fk::diesel::serialize::ToSql<#st, __DB>,)
        } else {
            quote!(#ty: __fk::diesel::serialize::ToSql<#st, __DB>,)
        };
        let is_foreign_key = model
            .relations
            .iter()
            .any(|r| r.fields.iter().any(|f| f.ident == field.ident));
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
    });

    let references = model
        .relations
        .iter()
        .enumerate()
        .filter(|(_, r)| r.sole_to_parent)
        .map(|(i, r)| {
            let parent = parent_table(&r.parent);
            quote! {
                impl __fk::References<#parent, #i> for #ident {}
            }
        });
    let relation_consts = model.relations.iter().enumerate().map(|(i, r)| {
        let parent = parent_table(&r.parent);
        let name = format_ident!(
            "{}",
            r.name.to_string().to_uppercase(),
            span = r.name.span()
        );
        let fields: Vec<String> = r.fields.iter().map(|f| f.ident.to_string()).collect();
        let doc = format!(
            "The `{}` relation of `{}` (foreign key `{}`).",
            r.name,
            ident,
            fields.join(", ")
        );
        quote! {
            #[doc = #doc]
            #[allow(dead_code)]
            pub const #name: __fk::Relation<#ident, #parent> =
                __fk::Relation::new(#i);
        }
    });
    let key_checks = model.relations.iter().map(|r| {
        let parent = parent_table(&r.parent);
        let parent_key = quote! {
            <<#parent as __fk::diesel::Table>::PrimaryKey
                as __fk::diesel::Expression>::SqlType
        };
        let checks = r.fields.iter().enumerate().map(|(part, f)| {
            let column = f.column();
            let parent_part = if r.fields.len() == 1 {
                parent_key.clone()
            } else {
                quote!(<#parent_key as __fk::KeyPart<#part>>::Sql)
            };
            let span = r.part_spans.get(part).copied().unwrap_or(r.span);
            quote_spanned! {span=>
                const _: () = __fk::assert_same_key_type::<
                    <#table::#column as __fk::diesel::Expression>::SqlType,
                    #parent_part,
                >();
            }
        });
        quote!(#(#checks)*)
    });

    quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, unused_qualifications, clippy::all)]
        const _: () = {
            use ::fk_safe::__private_0_1 as __fk;

            impl __fk::FkOrdered for #ident {
                type Table = #table::table;
                type Key = #key_type;
                const MODEL: &'static str = #model_name;
                const COLUMNS: &'static [&'static str] = &[
                    #(<#table::#columns as __fk::diesel::Column>::NAME,)*
                ];
                const KEY_COLUMN: &'static str = #key_name;
                #key_columns
                const RELATIONS: &'static [__fk::RelationInfo] = &[#(#relation_infos,)*];
                const NATURAL_KEY: &'static [&'static str] = &[
                    #(<#table::#natural_columns as __fk::diesel::Column>::NAME,)*
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

            #has_natural_key

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
                    #(#natural_values)*
                    ::core::result::Result::Ok(())
                }

                fn write_values<'__b>(
                    &'__b self,
                    links: &'__b [::core::option::Option<__fk::KeyValue>],
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

            #(#references)*

            impl #ident {
                #(#relation_consts)*
            }

            #(#key_checks)*

            #(#undeclared_key_checks)*
        };
    }
}

//! The expand stage: the code generated for a checked [`Model`], one module
//! for each thing it generates. Everything goes into one `const _: () = {..}`
//! whose only import, `__fk`, is fk-safe's versioned hidden module: the
//! generated code names nothing else of fk-safe.

mod checks;
mod metadata;
mod natural_key;
pub(crate) mod references;
pub(crate) mod relations;
mod write_row;

use proc_macro2::TokenStream;
use quote::quote;
use syn::Ident;

use crate::ast::Field;
use crate::attr::Parent;
use crate::model::Model;

pub(crate) fn expand(model: &Model) -> TokenStream {
    let ident = model.ident;
    let metadata = metadata::fk_ordered(model);
    let natural_key = natural_key::impls(model);
    let write_row = write_row::write_row(model);
    let references = references::impls(model);
    let relation_consts = relations::constants(model);
    let parent_checks = checks::parents_name_tables(model);
    let key_type_checks = checks::key_types(model);
    let undeclared_key_checks = checks::undeclared_key(model);
    in_hidden_scope(quote! {
        #(#parent_checks)*

        #metadata

        #natural_key

        #write_row

        #(#references)*

        impl #ident {
            #(#relation_consts)*
        }

        #(#key_type_checks)*

        #(#undeclared_key_checks)*
    })
}

/// `items` in the anonymous scope every expansion goes into, with fk-safe's
/// hidden module as `__fk`.
pub(crate) fn in_hidden_scope(items: TokenStream) -> TokenStream {
    quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, unused_qualifications, clippy::all)]
        const _: () = {
            use ::fk_safe::__private_0_1 as __fk;

            #items
        };
    }
}

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

/// The SQL type of `column` of the model's table.
fn sql_type(model: &Model, column: &Ident) -> TokenStream {
    let table = &model.table;
    quote!(<#table::#column as __fk::diesel::Expression>::SqlType)
}

/// The SQL name of `column` of the model's table.
fn column_name(model: &Model, column: &Ident) -> TokenStream {
    let table = &model.table;
    quote!(<#table::#column as __fk::diesel::Column>::NAME)
}

/// A key as fk-safe carries it: one field's value, or the parts of a
/// composite key (NULL when any part is NULL).
fn key_of(fields: &[&Field]) -> TokenStream {
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
}

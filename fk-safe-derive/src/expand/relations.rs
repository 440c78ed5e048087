//! The relation constants (`NewComment::REPLY_TO`): one typed
//! `Relation<Model, ParentTable>` per relation, for `.parent_via` and
//! `Graph::link`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::parent_table;
use crate::model::{Model, Relation};

/// The constants of the model's relations.
pub(crate) fn constants<'m>(model: &'m Model) -> impl Iterator<Item = TokenStream> + 'm {
    model
        .relations
        .iter()
        .enumerate()
        .map(move |(i, r)| constant(model, i, r))
}

/// The constant of relation `index`.
pub(crate) fn constant(model: &Model, index: usize, r: &Relation) -> TokenStream {
    let ident = model.ident;
    let parent = parent_table(&r.parent);
    let name = constant_name(r);
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
            __fk::Relation::new(#index);
    }
}

/// The constant's name: the relation's, in upper case, at its span.
pub(crate) fn constant_name(relation: &Relation) -> syn::Ident {
    format_ident!(
        "{}",
        relation.name.to_string().to_uppercase(),
        span = relation.name.span()
    )
}

//! `References<ParentTable, N>`: the marker `.parent(handle)` picks a
//! relation by, for each relation that is the model's only one to its
//! parent's table.

use proc_macro2::TokenStream;
use quote::quote;

use super::parent_table;
use crate::model::Model;

pub(crate) fn impls<'m>(model: &'m Model) -> impl Iterator<Item = TokenStream> + 'm {
    let ident = model.ident;
    model
        .relations
        .iter()
        .enumerate()
        .filter(|(_, r)| r.sole_to_parent)
        .map(move |(i, r)| {
            let parent = parent_table(&r.parent);
            quote! {
                impl __fk::References<#parent, #i> for #ident {}
            }
        })
}

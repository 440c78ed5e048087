//! `#[derive(FkOrdered)]` for [fk-safe](https://docs.rs/fk-safe): reads a
//! Diesel model's relations and generates what `insert_graph()` needs.

// The derive runs in stages, each in its own module, in the shape of
// serde_derive and thiserror-impl:
//
// 1. parse: `attr` reads Diesel's `#[diesel(..)]` and fk-safe's `#[fk(..)]`
//    (a key given twice is an error at the repeat), `ast` holds the struct,
//    its fields and their attributes;
// 2. model: `model` resolves what the attributes name (foreign-key columns
//    to fields, relations, the key's columns and type);
// 3. check: `valid` holds one function per rule;
// 4. expand: `expand` generates the code, a module for each part.
//
// Every error is collected in a `ctxt::Ctxt` at its span with a `help:`
// line, so that all show at once; with errors, `fallback` emits impls beside
// them that keep the model's other uses from adding errors.

mod ast;
mod attr;
mod ctxt;
mod expand;
mod fallback;
mod model;
mod valid;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

// The documentation's examples need fk-safe and Diesel with a backend,
// which a proc-macro crate cannot depend on for its doctests without
// splitting Diesel's features between host and target: they are compiled
// and run as doctests of the workspace's suite crate (src/lib.rs) instead.
#[cfg_attr(not(doctest), doc = include_str!("../FkOrdered.md"))]
#[proc_macro_derive(FkOrdered, attributes(diesel, fk))]
pub fn derive_fk_ordered(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    derive(&input).into()
}

/// The whole derive on a parsed input, as a `proc_macro2` stream so that
/// tests can run it outside a compiler.
fn derive(input: &DeriveInput) -> proc_macro2::TokenStream {
    let cx = ctxt::Ctxt::default();
    let parsed = ast::Input::from_syn(&cx, input);
    valid::check_input(&cx, &parsed);
    let model = model::Model::from_ast(&cx, &parsed);
    if let Some(model) = &model {
        valid::check_model(&cx, model);
    }
    match (cx.check(), &model) {
        (Ok(()), Some(model)) => expand::expand(model),
        (Err(errors), model) => fallback::expand(&parsed, model.as_ref(), errors),
        // Every path to no model reports why; this keeps a missed one from
        // passing in silence.
        (Ok(()), None) => fallback::expand(
            &parsed,
            None,
            syn::Error::new(
                input.ident.span(),
                "#[derive(FkOrdered)] could not read this model",
            ),
        ),
    }
}

#[cfg(test)]
mod tests;

//! `#[derive(FkOrdered)]` for [fk-safe](https://docs.rs/fk-safe): reads a
//! Diesel model's relations and generates what `insert_graph()` needs.
//!
//! The derive is layered like the best proc-macro crates: [`attr`] parses
//! Diesel's `#[diesel(..)]` and fk-safe's `#[fk(..)]`, [`ast`] holds the
//! model, [`valid`] checks it (every error collected by [`ctxt`], each at its
//! span with a `help:` line), and [`expand`] generates the code.

mod ast;
mod attr;
mod ctxt;
mod expand;
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
    let model = valid::check(&cx, &parsed);
    match (cx.check(), model) {
        (Ok(()), Some(model)) => expand::expand(&model),
        (Err(errors), _) => errors.to_compile_error(),
        (Ok(()), None) => syn::Error::new(
            input.ident.span(),
            "#[derive(FkOrdered)] could not read this model",
        )
        .to_compile_error(),
    }
}

#[cfg(test)]
mod tests;

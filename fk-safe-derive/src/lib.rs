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

/// Derives `fk_safe::FkOrdered` (see the fk-safe crate's `graph` module).
///
/// Reads `#[diesel(table_name = ..)]`, `#[diesel(belongs_to(Parent,
/// foreign_key = ..))]`, `#[diesel(primary_key(..))]`,
/// `#[diesel(column_name = ..)]` and `#[diesel(treat_none_as_default_value =
/// ..)]` (on the struct or a field: `None` is DEFAULT unless it says
/// `false`), plus fk-safe's own `#[fk(relation(name = .., foreign_key =
/// ..))]` (a name for a relation), `#[fk(natural_key(..))]` and
/// `#[fk(key = Type)]` (the Rust type of the generated key, `i64` by default).
#[proc_macro_derive(FkOrdered, attributes(diesel, fk))]
pub fn derive_fk_ordered(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let cx = ctxt::Ctxt::default();
    let parsed = ast::Input::from_syn(&cx, &input);
    let model = valid::check(&cx, &parsed);
    match (cx.check(), model) {
        (Ok(()), Some(model)) => expand::expand(&model).into(),
        (Err(errors), _) => errors.to_compile_error().into(),
        (Ok(()), None) => syn::Error::new(
            input.ident.span(),
            "#[derive(FkOrdered)] could not read this model",
        )
        .to_compile_error()
        .into(),
    }
}

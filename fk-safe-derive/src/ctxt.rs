//! Collects every error of one derive so that a user sees all of them at
//! once (as serde_derive's `Ctxt` does), each at its own span.

use std::cell::RefCell;
use std::fmt::Display;

use proc_macro2::Span;

#[derive(Default)]
pub(crate) struct Ctxt {
    errors: RefCell<Vec<syn::Error>>,
}

impl Ctxt {
    /// An error at `span` with a `help:` line saying how to fix it.
    pub(crate) fn error_help(&self, span: Span, message: impl Display, help: impl Display) {
        self.errors.borrow_mut().push(syn::Error::new(
            span,
            format!("{message}\n\n= help: {help}"),
        ));
    }

    /// A parse error of syn's (an attribute not of its form), with a
    /// `help:` line giving the form.
    pub(crate) fn syn_error_help(&self, error: syn::Error, help: impl Display) {
        let mut errors = self.errors.borrow_mut();
        for error in error {
            errors.push(syn::Error::new(
                error.span(),
                format!("{error}\n\n= help: {help}"),
            ));
        }
    }

    /// All errors, combined into one.
    pub(crate) fn check(self) -> Result<(), syn::Error> {
        let mut errors = self.errors.into_inner().into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            combined.combine(error);
        }
        Err(combined)
    }
}

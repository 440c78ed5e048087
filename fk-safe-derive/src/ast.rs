//! The parse stage: the derive's input as a small model, the struct, its
//! fields and what their attributes say ([`crate::attr`]), before any name
//! is resolved ([`crate::model`]) or any rule checked ([`crate::valid`]).

use syn::{Data, DeriveInput, Fields, Ident, Type};

use crate::attr::{self, ContainerAttrs, FieldAttrs};
use crate::ctxt::Ctxt;

pub(crate) struct Input<'a> {
    pub(crate) original: &'a DeriveInput,
    pub(crate) attrs: ContainerAttrs,
    /// `None` when the input is not a struct with named fields.
    pub(crate) fields: Option<Vec<Field<'a>>>,
}

pub(crate) struct Field<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    pub(crate) attrs: FieldAttrs,
}

impl Field<'_> {
    /// The column the field is written to.
    pub(crate) fn column(&self) -> &Ident {
        self.attrs.column_name.as_ref().unwrap_or(self.ident)
    }
}

impl<'a> Input<'a> {
    /// The fields an insert writes (all but `skip_insertion`), in order;
    /// `None` when the input is not a struct with named fields.
    pub(crate) fn inserted_fields(&'a self) -> Option<Vec<&'a Field<'a>>> {
        let fields = self.fields.as_ref()?;
        Some(fields.iter().filter(|f| !f.attrs.skip_insertion).collect())
    }

    pub(crate) fn from_syn(cx: &Ctxt, input: &'a DeriveInput) -> Self {
        let fields = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => Some(
                    named
                        .named
                        .iter()
                        .filter_map(|f| {
                            f.ident.as_ref().map(|ident| Field {
                                ident,
                                ty: &f.ty,
                                attrs: attr::field(cx, &f.attrs),
                            })
                        })
                        .collect(),
                ),
                _ => None,
            },
            _ => None,
        };
        Input {
            original: input,
            attrs: attr::container(cx, &input.attrs),
            fields,
        }
    }
}

/// `T` for `Option<T>`, else the type itself.
pub(crate) fn option_inner(ty: &Type) -> &Type {
    if let Type::Path(path) = ty {
        if let Some(segment) = path.path.segments.last() {
            if segment.ident == "Option" {
                if let syn::PathArguments::AngleBracketed(args) = &segment.arguments {
                    if let Some(syn::GenericArgument::Type(inner)) = args.args.first() {
                        return inner;
                    }
                }
            }
        }
    }
    ty
}

/// Whether a field's type is written `Option<..>` (a nullable column).
pub(crate) fn is_option(ty: &Type) -> bool {
    !std::ptr::eq(option_inner(ty), ty)
}

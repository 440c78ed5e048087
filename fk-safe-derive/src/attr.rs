//! Attribute parsing: what Diesel's `#[diesel(..)]` already says, and what
//! fk-safe's own `#[fk(..)]` adds. Keys of `diesel(..)` that fk-safe does not
//! use are skipped, whatever their form.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::{Ident, Path, Token, Type};

use crate::ctxt::Ctxt;

/// `belongs_to(Parent, foreign_key = field)`.
pub(crate) struct BelongsTo {
    pub(crate) parent: Path,
    /// `None` when omitted: Diesel's default, `<parent>_id`.
    pub(crate) foreign_key: Option<Ident>,
}

/// `#[fk(relation(name = .., foreign_key = ..))]` names a `belongs_to`;
/// with `parent = Type` (and `foreign_key(a, b)` for a composite key) it
/// declares a relation Diesel's `belongs_to` cannot express.
pub(crate) struct NamedRelation {
    pub(crate) name: Ident,
    pub(crate) foreign_key: Vec<Ident>,
    pub(crate) parent: Option<Path>,
}

#[derive(Default)]
pub(crate) struct ContainerAttrs {
    pub(crate) table_name: Option<Path>,
    pub(crate) primary_key: Option<(Span, Vec<Ident>)>,
    pub(crate) belongs_to: Vec<BelongsTo>,
    pub(crate) relations: Vec<NamedRelation>,
    pub(crate) key: Option<Type>,
    /// `#[fk(natural_key(a, b))]`: fields that identify a row without its id.
    pub(crate) natural_key: Option<(Span, Vec<Ident>)>,
    /// Diesel's `treat_none_as_default_value` (`true` when not given).
    pub(crate) none_as_default: Option<bool>,
}

#[derive(Default)]
pub(crate) struct FieldAttrs {
    pub(crate) column_name: Option<Ident>,
    pub(crate) skip_insertion: bool,
    /// Diesel's field-level `treat_none_as_default_value`, which overrides
    /// the struct's.
    pub(crate) none_as_default: Option<bool>,
    /// Diesel keys fk-safe cannot honour, with where they were written.
    pub(crate) unsupported: Vec<(Span, &'static str)>,
}

pub(crate) fn container(cx: &Ctxt, attrs: &[syn::Attribute]) -> ContainerAttrs {
    let mut out = ContainerAttrs::default();
    for attr in attrs {
        if attr.path().is_ident("diesel") {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("table_name") {
                    out.table_name = Some(meta.value()?.parse()?);
                } else if meta.path.is_ident("primary_key") {
                    let span = meta
                        .path
                        .get_ident()
                        .map(Ident::span)
                        .unwrap_or_else(Span::call_site);
                    let mut columns = Vec::new();
                    meta.parse_nested_meta(|column| {
                        columns.push(expect_ident(&column)?);
                        Ok(())
                    })?;
                    out.primary_key = Some((span, columns));
                } else if meta.path.is_ident("belongs_to") {
                    out.belongs_to.push(belongs_to(&meta)?);
                } else if meta.path.is_ident("treat_none_as_default_value") {
                    out.none_as_default = Some(meta.value()?.parse::<syn::LitBool>()?.value);
                } else {
                    skip(&meta)?;
                }
                Ok(())
            });
            if let Err(error) = parsed {
                cx.syn_error(error);
            }
        } else if attr.path().is_ident("fk") {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("relation") {
                    out.relations.push(named_relation(cx, &meta)?);
                } else if meta.path.is_ident("key") {
                    out.key = Some(meta.value()?.parse()?);
                } else if meta.path.is_ident("natural_key") {
                    let span = meta.path.span_or_call_site();
                    let content;
                    syn::parenthesized!(content in meta.input);
                    let fields = syn::punctuated::Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
                    out.natural_key = Some((span, fields.into_iter().collect()));
                } else {
                    cx.error_help(
                        meta.path.span_or_call_site(),
                        format!("unknown fk-safe attribute `{}`", path_text(&meta.path)),
                        "fk-safe understands #[fk(relation(name = .., foreign_key = ..))], #[fk(natural_key(field, ..))] and #[fk(key = Type)]",
                    );
                    skip(&meta)?;
                }
                Ok(())
            });
            if let Err(error) = parsed {
                cx.syn_error(error);
            }
        }
    }
    out
}

pub(crate) fn field(cx: &Ctxt, attrs: &[syn::Attribute]) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("diesel")) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("column_name") {
                out.column_name = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("skip_insertion") {
                out.skip_insertion = true;
            } else if meta.path.is_ident("treat_none_as_default_value") {
                out.none_as_default = Some(meta.value()?.parse::<syn::LitBool>()?.value);
            } else if meta.path.is_ident("embed") {
                out.unsupported
                    .push((meta.path.span_or_call_site(), "embed"));
            } else if meta.path.is_ident("serialize_as") {
                out.unsupported
                    .push((meta.path.span_or_call_site(), "serialize_as"));
                skip(&meta)?;
            } else {
                skip(&meta)?;
            }
            Ok(())
        });
        if let Err(error) = parsed {
            cx.syn_error(error);
        }
    }
    for attr in attrs.iter().filter(|a| a.path().is_ident("fk")) {
        cx.error_help(
            attr.path().span_or_call_site(),
            "#[fk(..)] goes on the struct, not on a field",
            "move it above the struct: #[fk(relation(name = .., foreign_key = this_field))]",
        );
    }
    out
}

fn belongs_to(meta: &ParseNestedMeta) -> syn::Result<BelongsTo> {
    let content;
    syn::parenthesized!(content in meta.input);
    let parent: Path = content.parse()?;
    let mut foreign_key = None;
    while !content.is_empty() {
        content.parse::<Token![,]>()?;
        if content.is_empty() {
            break;
        }
        let key: Ident = content.parse()?;
        content.parse::<Token![=]>()?;
        if key == "foreign_key" {
            foreign_key = Some(content.parse()?);
        } else {
            skip_value(&content)?;
        }
    }
    Ok(BelongsTo {
        parent,
        foreign_key,
    })
}

fn named_relation(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<NamedRelation> {
    let span = meta.path.span_or_call_site();
    let mut name = None;
    let mut foreign_key = Vec::new();
    let mut parent = None;
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("name") {
            name = Some(inner.value()?.parse::<Ident>()?);
        } else if inner.path.is_ident("foreign_key") {
            if inner.input.peek(Token![=]) {
                foreign_key.push(inner.value()?.parse::<Ident>()?);
            } else {
                let content;
                syn::parenthesized!(content in inner.input);
                let columns =
                    syn::punctuated::Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
                foreign_key.extend(columns);
            }
        } else if inner.path.is_ident("parent") {
            parent = Some(inner.value()?.parse::<Path>()?);
        } else {
            cx.error_help(
                inner.path.span_or_call_site(),
                format!("unknown key `{}` in #[fk(relation(..))]", path_text(&inner.path)),
                "write #[fk(relation(name = from, foreign_key = from_account_id))], or for a composite key #[fk(relation(name = warehouse, parent = Warehouse, foreign_key(tenant_id, warehouse_code)))]",
            );
            skip(&inner)?;
        }
        Ok(())
    })?;
    match name {
        Some(name) if !foreign_key.is_empty() => Ok(NamedRelation {
            name,
            foreign_key,
            parent,
        }),
        _ => Err(syn::Error::new(
            span,
            "#[fk(relation(..))] needs both `name` and `foreign_key`\n\n= help: write #[fk(relation(name = from, foreign_key = from_account_id))]",
        )),
    }
}

fn expect_ident(meta: &ParseNestedMeta) -> syn::Result<Ident> {
    meta.path
        .get_ident()
        .cloned()
        .ok_or_else(|| meta.error("expected a column name"))
}

/// Consumes whatever follows a key fk-safe does not use: `= value`,
/// `(..)`, or nothing.
fn skip(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.input.parse::<Token![=]>()?;
        skip_value(meta.input)
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
        Ok(())
    } else {
        Ok(())
    }
}

fn skip_value(input: ParseStream) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<TokenTree>()?;
    }
    Ok(())
}

fn path_text(path: &Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

trait SpanOrCallSite {
    fn span_or_call_site(&self) -> Span;
}

impl SpanOrCallSite for Path {
    fn span_or_call_site(&self) -> Span {
        self.segments
            .first()
            .map(|s| s.ident.span())
            .unwrap_or_else(Span::call_site)
    }
}

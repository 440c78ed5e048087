//! Attribute parsing: what Diesel's `#[diesel(..)]` already says, and what
//! fk-safe's own `#[fk(..)]` adds. Keys of `diesel(..)` that fk-safe does not
//! use are skipped, whatever their form.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::{Ident, Path, Token, Type};

use crate::ctxt::Ctxt;

/// `belongs_to(Parent, foreign_key = column)`. As in Diesel, the foreign
/// key names a column (a field's `column_name`, else the field's name).
pub(crate) struct BelongsTo {
    pub(crate) parent: Path,
    /// `None` when omitted: Diesel's default, `<parent>_id`.
    pub(crate) foreign_key: Option<Ident>,
}

/// What a relation points at.
#[derive(Clone)]
pub(crate) enum Parent {
    /// A type with Diesel's `HasTable`: an `Identifiable` struct (what
    /// Diesel's `belongs_to` names), or a table type such as `authors::table`.
    Type(Path),
    /// A table module as `table_name` names it (`authors`, `schema::authors`):
    /// a path whose last segment is snake_case and not `table`.
    Table(Path),
}

impl Parent {
    fn from_path(path: Path) -> Self {
        let table_module = path.segments.last().is_some_and(|s| {
            let name = s.ident.to_string();
            let name = name.strip_prefix("r#").unwrap_or(&name);
            name != "table" && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        });
        if table_module {
            Parent::Table(path)
        } else {
            Parent::Type(path)
        }
    }

    pub(crate) fn path(&self) -> &Path {
        match self {
            Parent::Type(path) | Parent::Table(path) => path,
        }
    }
}

/// `#[fk(relation(name = .., foreign_key = ..))]` names a `belongs_to`;
/// with `parent = ..` (and `foreign_key(a, b)` for a composite key) it
/// declares a relation of its own: one Diesel's `belongs_to` cannot express,
/// or one to a parent that has no `Identifiable` struct.
pub(crate) struct NamedRelation {
    /// `None` only with a `parent` and a single foreign-key column: the
    /// column names the relation, as for `belongs_to`.
    pub(crate) name: Option<Ident>,
    /// Columns, as in Diesel's `belongs_to`.
    pub(crate) foreign_key: Vec<Ident>,
    pub(crate) parent: Option<Parent>,
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
    /// The column, as Diesel's `column_name` names it (an identifier or a
    /// string literal).
    pub(crate) column_name: Option<Ident>,
    pub(crate) skip_insertion: bool,
    /// Diesel's field-level `treat_none_as_default_value`, which overrides
    /// the struct's.
    pub(crate) none_as_default: Option<bool>,
    /// Diesel keys fk-safe cannot honour, with where they were written.
    pub(crate) unsupported: Vec<(Span, &'static str)>,
}

/// The forms of `#[fk(..)]`, for the help of an error in one.
const FK_FORMS: &str = "fk-safe understands #[fk(relation(name = .., parent = .., foreign_key = ..))], #[fk(natural_key(field, ..))] and #[fk(key = Type)]";

/// The `#[diesel(..)]` keys fk-safe reads on a struct, likewise.
const DIESEL_FORMS: &str = "fk-safe reads #[diesel(table_name = posts, primary_key(a, b), belongs_to(Parent, foreign_key = column), treat_none_as_default_value = false)] as Diesel writes them";

/// The `#[diesel(..)]` keys fk-safe reads on a field, likewise.
const DIESEL_FIELD_FORMS: &str = "fk-safe reads #[diesel(column_name = column, skip_insertion, treat_none_as_default_value = false)] on a field as Diesel writes them";

/// Keys already read in one scope (the struct's attributes, a field's, one
/// `relation(..)` or `belongs_to(..)`): a key given twice is an error at the
/// second one, never a silent overwrite.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    /// `true` the first time `key` is seen; after that, an error at `span`.
    fn first(&mut self, cx: &Ctxt, key: &str, written: &str, span: Span, help: &str) -> bool {
        if self.0.iter().any(|k| k == key) {
            cx.error_help(span, format!("{written} is given twice"), help);
            false
        } else {
            self.0.push(key.to_string());
            true
        }
    }
}

/// `items` with each repeat dropped after an error at it: a list of
/// columns or fields names each once.
fn distinct(cx: &Ctxt, items: Vec<Ident>, list: &str, help: &str) -> Vec<Ident> {
    let mut kept: Vec<Ident> = Vec::with_capacity(items.len());
    for item in items {
        if kept.contains(&item) {
            cx.error_help(
                item.span(),
                format!("`{item}` is listed twice in {list}"),
                help,
            );
        } else {
            kept.push(item);
        }
    }
    kept
}

pub(crate) fn container(cx: &Ctxt, attrs: &[syn::Attribute]) -> ContainerAttrs {
    let mut out = ContainerAttrs::default();
    let mut seen = Seen::default();
    for attr in attrs {
        if attr.path().is_ident("diesel") {
            let parsed = attr.parse_nested_meta(|meta| {
                let span = meta.path.span_or_call_site();
                if meta.path.is_ident("table_name") {
                    let table = meta.value()?.parse()?;
                    if seen.first(
                        cx,
                        "table_name",
                        "#[diesel(table_name = ..)]",
                        span,
                        "#[derive(FkOrdered)] writes a model into one table (Diesel's Insertable would write to each): keep one table_name, and declare another model for the other table",
                    ) {
                        out.table_name = Some(table);
                    }
                } else if meta.path.is_ident("primary_key") {
                    let content;
                    syn::parenthesized!(content in meta.input);
                    let columns: Vec<Ident> =
                        syn::punctuated::Punctuated::<Ident, Token![,]>::parse_terminated(&content)?
                            .into_iter()
                            .collect();
                    let columns = distinct(
                        cx,
                        columns,
                        "#[diesel(primary_key(..))]",
                        "a key lists each of its columns once",
                    );
                    if seen.first(
                        cx,
                        "primary_key",
                        "#[diesel(primary_key(..))]",
                        span,
                        "Diesel would use only the last one: keep one, listing every key column, e.g. #[diesel(primary_key(tenant_id, code))]",
                    ) {
                        out.primary_key = Some((span, columns));
                    }
                } else if meta.path.is_ident("belongs_to") {
                    out.belongs_to.push(belongs_to(cx, &meta)?);
                } else if meta.path.is_ident("treat_none_as_default_value") {
                    let value = meta.value()?.parse::<syn::LitBool>()?.value;
                    if seen.first(
                        cx,
                        "treat_none_as_default_value",
                        "#[diesel(treat_none_as_default_value = ..)]",
                        span,
                        "keep one: `true` (the default) writes None as DEFAULT, `false` as NULL",
                    ) {
                        out.none_as_default = Some(value);
                    }
                } else {
                    skip(&meta)?;
                }
                Ok(())
            });
            if let Err(error) = parsed {
                cx.syn_error_help(error, DIESEL_FORMS);
            }
        } else if attr.path().is_ident("fk") {
            let parsed = attr.parse_nested_meta(|meta| {
                let span = meta.path.span_or_call_site();
                if meta.path.is_ident("relation") {
                    out.relations.extend(named_relation(cx, &meta)?);
                } else if meta.path.is_ident("key") {
                    let key = meta.value()?.parse()?;
                    if seen.first(
                        cx,
                        "key",
                        "#[fk(key = ..)]",
                        span,
                        "a model has one key type: keep one #[fk(key = Type)]",
                    ) {
                        out.key = Some(key);
                    }
                } else if meta.path.is_ident("natural_key") {
                    let content;
                    syn::parenthesized!(content in meta.input);
                    let fields = distinct(
                        cx,
                        syn::punctuated::Punctuated::<Ident, Token![,]>::parse_terminated(&content)?
                            .into_iter()
                            .collect(),
                        "#[fk(natural_key(..))]",
                        "a natural key lists each of its fields once",
                    );
                    if seen.first(
                        cx,
                        "natural_key",
                        "#[fk(natural_key(..))]",
                        span,
                        "a model has one natural key: list all its fields in one #[fk(natural_key(a, b))]",
                    ) {
                        out.natural_key = Some((span, fields));
                    }
                } else {
                    cx.error_help(
                        span,
                        format!("unknown fk-safe attribute `{}`", path_text(&meta.path)),
                        FK_FORMS,
                    );
                    skip(&meta)?;
                }
                Ok(())
            });
            if let Err(error) = parsed {
                cx.syn_error_help(error, FK_FORMS);
            }
        }
    }
    out
}

pub(crate) fn field(cx: &Ctxt, attrs: &[syn::Attribute]) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    let mut seen = Seen::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("diesel")) {
        let parsed = attr.parse_nested_meta(|meta| {
            let span = meta.path.span_or_call_site();
            if meta.path.is_ident("column_name") {
                let column = column_name(cx, meta.value()?)?;
                if seen.first(
                    cx,
                    "column_name",
                    "#[diesel(column_name = ..)]",
                    span,
                    "a field is written to one column: keep one column_name",
                ) {
                    out.column_name = column;
                }
            } else if meta.path.is_ident("skip_insertion") {
                seen.first(
                    cx,
                    "skip_insertion",
                    "#[diesel(skip_insertion)]",
                    span,
                    "one skip_insertion leaves the field out: remove the repeat",
                );
                out.skip_insertion = true;
            } else if meta.path.is_ident("treat_none_as_default_value") {
                let value = meta.value()?.parse::<syn::LitBool>()?.value;
                if seen.first(
                    cx,
                    "treat_none_as_default_value",
                    "#[diesel(treat_none_as_default_value = ..)]",
                    span,
                    "keep one: `true` writes None as DEFAULT, `false` as NULL",
                ) {
                    out.none_as_default = Some(value);
                }
            } else if meta.path.is_ident("embed") {
                out.unsupported.push((span, "embed"));
            } else if meta.path.is_ident("serialize_as") {
                out.unsupported.push((span, "serialize_as"));
                skip(&meta)?;
            } else {
                skip(&meta)?;
            }
            Ok(())
        });
        if let Err(error) = parsed {
            cx.syn_error_help(error, DIESEL_FIELD_FORMS);
        }
    }
    for attr in attrs.iter().filter(|a| a.path().is_ident("fk")) {
        cx.error_help(
            attr.path().span_or_call_site(),
            "#[fk(..)] goes on the struct, not on a field",
            "move it above the struct: #[fk(relation(name = .., foreign_key = this_column))]",
        );
    }
    out
}

/// Diesel's `column_name = x` or `column_name = "x"`; `None` after an
/// error for a string that names no column.
fn column_name(cx: &Ctxt, input: ParseStream) -> syn::Result<Option<Ident>> {
    if !input.peek(syn::LitStr) {
        return input.parse().map(Some);
    }
    let literal: syn::LitStr = input.parse()?;
    // The column module Diesel's `table!` declares for a keyword is raw.
    let column = literal
        .parse::<Ident>()
        .or_else(|_| syn::parse_str::<Ident>(&format!("r#{}", literal.value())));
    match column {
        Ok(mut ident) => {
            ident.set_span(literal.span());
            Ok(Some(ident))
        }
        Err(_) => {
            cx.error_help(
                literal.span(),
                "expected a column name",
                "write the column as Diesel's table! names it: column_name = body, or column_name = \"type\" for a keyword",
            );
            Ok(None)
        }
    }
}

fn belongs_to(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<BelongsTo> {
    let content;
    syn::parenthesized!(content in meta.input);
    let parent: Path = content.parse()?;
    let mut foreign_key = None;
    let mut seen = Seen::default();
    while !content.is_empty() {
        content.parse::<Token![,]>()?;
        if content.is_empty() {
            break;
        }
        let key: Ident = content.parse()?;
        content.parse::<Token![=]>()?;
        if key == "foreign_key" {
            let column: Ident = content.parse()?;
            if seen.first(
                cx,
                "foreign_key",
                "`foreign_key` of one belongs_to",
                key.span(),
                "a belongs_to has one foreign-key column (Diesel would use the last); a composite foreign key is #[fk(relation(name = .., parent = .., foreign_key(a, b)))]",
            ) {
                foreign_key = Some(column);
            }
        } else {
            skip_value(&content)?;
        }
    }
    Ok(BelongsTo {
        parent,
        foreign_key,
    })
}

/// `relation(..)`; `None` after an error for one that lacks a key it needs.
fn named_relation(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<NamedRelation>> {
    let span = meta.path.span_or_call_site();
    let mut name = None;
    let mut foreign_key = Vec::new();
    let mut parent = None;
    let mut seen = Seen::default();
    meta.parse_nested_meta(|inner| {
        let key_span = inner.path.span_or_call_site();
        if inner.path.is_ident("name") {
            let value = inner.value()?.parse::<Ident>()?;
            if seen.first(
                cx,
                "name",
                "`name` of one relation",
                key_span,
                "a relation has one name; declare another relation with its own #[fk(relation(..))]",
            ) {
                name = Some(value);
            }
        } else if inner.path.is_ident("foreign_key") {
            let columns = if inner.input.peek(Token![=]) {
                vec![inner.value()?.parse::<Ident>()?]
            } else {
                let content;
                syn::parenthesized!(content in inner.input);
                distinct(
                    cx,
                    syn::punctuated::Punctuated::<Ident, Token![,]>::parse_terminated(&content)?
                        .into_iter()
                        .collect(),
                    "the `foreign_key(..)` of one relation",
                    "a composite foreign key lists each column once, in the order of the parent's key columns",
                )
            };
            if seen.first(
                cx,
                "foreign_key",
                "`foreign_key` of one relation",
                key_span,
                "list every column of a composite foreign key in one foreign_key(a, b), in the order of the parent's key columns",
            ) {
                foreign_key = columns;
            }
        } else if inner.path.is_ident("parent") {
            let value = Parent::from_path(inner.value()?.parse::<Path>()?);
            if seen.first(
                cx,
                "parent",
                "`parent` of one relation",
                key_span,
                "a relation points at one parent table; declare another relation for the other",
            ) {
                parent = Some(value);
            }
        } else {
            cx.error_help(
                key_span,
                format!("unknown key `{}` in #[fk(relation(..))]", path_text(&inner.path)),
                "write #[fk(relation(parent = authors, foreign_key = author_id))], #[fk(relation(name = from, foreign_key = from_account_id))] or, for a composite key, #[fk(relation(name = warehouse, parent = warehouses, foreign_key(tenant_id, warehouse_code)))]",
            );
            skip(&inner)?;
        }
        Ok(())
    })?;
    if foreign_key.is_empty() {
        cx.error_help(
            span,
            "#[fk(relation(..))] needs its `foreign_key`",
            "write #[fk(relation(parent = authors, foreign_key = author_id))], or #[fk(relation(name = from, foreign_key = from_account_id))] to name a belongs_to",
        );
        return Ok(None);
    }
    if name.is_none() && (parent.is_none() || foreign_key.len() > 1) {
        let help = if parent.is_none() {
            "#[fk(relation(..))] without a parent names a belongs_to: write #[fk(relation(name = from, foreign_key = from_account_id))], or give the parent: #[fk(relation(parent = accounts, foreign_key = from_account_id))]"
        } else {
            "a composite foreign key names its relation: #[fk(relation(name = warehouse, parent = warehouses, foreign_key(tenant_id, warehouse_code)))]"
        };
        cx.error_help(span, "#[fk(relation(..))] needs a `name` here", help);
        return Ok(None);
    }
    Ok(Some(NamedRelation {
        name,
        foreign_key,
        parent,
    }))
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

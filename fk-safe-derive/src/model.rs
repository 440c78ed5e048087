//! The model stage: what the parsed attributes resolve to. Foreign-key
//! columns become the fields written to them, relations get their names and
//! parents, the key its columns and Rust type. A name that resolves to
//! nothing is an error here, at the name's span; the rules that a resolved
//! model must still satisfy are in [`crate::valid`].

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Ident, Path, Type};

use crate::ast::{is_option, option_inner, Field, Input};
use crate::attr::Parent;
use crate::ctxt::Ctxt;

/// A model ready to expand.
pub(crate) struct Model<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) table: Path,
    pub(crate) key_column: Ident,
    /// The key was named with `#[diesel(primary_key(..))]`; otherwise it is
    /// the table's own primary key, read from the schema at compile time.
    pub(crate) key_declared: bool,
    pub(crate) key_type: Type,
    /// The fields written by an insert, in order.
    pub(crate) fields: Vec<&'a Field<'a>>,
    pub(crate) relations: Vec<Relation<'a>>,
    /// The key columns are fields: keys are known before the insert.
    pub(crate) own_key: Vec<&'a Field<'a>>,
    /// Fields that identify a row without its id (`#[fk(natural_key(..))]`).
    pub(crate) natural_key: Vec<&'a Field<'a>>,
    /// Per field (in `fields` order): an `Option` field whose `None` Diesel
    /// writes as DEFAULT, so fk-safe leaves its column out for such rows.
    pub(crate) default_when_none: Vec<bool>,
}

pub(crate) struct Relation<'a> {
    pub(crate) name: Ident,
    pub(crate) parent: Parent,
    /// The foreign-key fields, in the parent key's column order.
    pub(crate) fields: Vec<&'a Field<'a>>,
    /// Where each part was written, for errors about that part.
    pub(crate) part_spans: Vec<Span>,
    /// The foreign-key ident as written (or the struct's, when defaulted),
    /// for spans.
    pub(crate) span: Span,
    /// No other relation of the model has this parent type, so
    /// `.parent(handle)` can pick it.
    pub(crate) sole_to_parent: bool,
}

impl Relation<'_> {
    /// Whether `field` is one of this relation's foreign-key fields.
    pub(crate) fn has_field(&self, field: &Field) -> bool {
        self.fields.iter().any(|f| f.ident == field.ident)
    }
}

impl<'a> Model<'a> {
    /// Resolves every name the attributes use. `None` when the input is not
    /// a struct or has no table or key columns. A name that does not resolve
    /// is reported in `cx` and left out, so a model with a relation or
    /// natural-key field missing exists only beside errors: it is then not
    /// expanded, and serves the rules on relations and the fallback.
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a Input<'a>) -> Option<Self> {
        let ident = &input.original.ident;
        let fields = input.inserted_fields()?;
        let key_columns = key_columns(input)?;
        let own_key = own_key(&key_columns, &fields);
        let natural_key = natural_key(cx, input, &fields);
        let relations = relations(cx, input, &fields);
        Some(Model {
            ident,
            table: input.attrs.table_name.clone()?,
            key_column: key_columns.first()?.clone(),
            key_declared: input.attrs.primary_key.is_some(),
            key_type: key_type(input, &fields),
            default_when_none: default_when_none(input, &fields),
            own_key: if own_key.len() == key_columns.len() {
                own_key
            } else {
                Vec::new()
            },
            natural_key,
            relations,
            fields,
        })
    }

    /// The relation `field` is a foreign key of, with its part of the key.
    pub(crate) fn relation_of(&self, field: &Field) -> Option<(usize, usize)> {
        self.relations.iter().enumerate().find_map(|(r, relation)| {
            relation
                .fields
                .iter()
                .position(|f| f.ident == field.ident)
                .map(|part| (r, part))
        })
    }
}

/// The key's columns: `primary_key(..)`'s, else the table's `id`. `None`
/// for an empty `primary_key()` (an error of [`crate::valid`]).
pub(crate) fn key_columns(input: &Input) -> Option<Vec<Ident>> {
    match &input.attrs.primary_key {
        Some((_, columns)) if columns.is_empty() => None,
        Some((_, columns)) => Some(columns.clone()),
        None => Some(vec![Ident::new("id", input.original.ident.span())]),
    }
}

/// The inserted fields written to key columns, in key order (those found).
pub(crate) fn own_key<'a>(key_columns: &[Ident], fields: &[&'a Field<'a>]) -> Vec<&'a Field<'a>> {
    key_columns
        .iter()
        .filter_map(|column| fields.iter().copied().find(|f| f.column() == column))
        .collect()
}

/// The Rust type of the model's key: `#[fk(key = ..)]`, else the field a
/// single key column is written from (without `Option`), else the tuple of
/// a composite key's fields, else `i64` (a key the database generates).
/// Needs no check to have passed, so the fallback impls use it too.
pub(crate) fn key_type(input: &Input, fields: &[&Field]) -> Type {
    let key_columns = key_columns(input).unwrap_or_default();
    let parts = own_key(&key_columns, fields);
    match (&input.attrs.key, parts.as_slice()) {
        (Some(key), _) => key.clone(),
        (None, parts) if key_columns.len() > 1 && parts.len() == key_columns.len() => {
            let types = parts.iter().map(|f| f.ty);
            syn::parse_quote!((#(#types,)*))
        }
        (None, [field]) if key_columns.len() == 1 => option_inner(field.ty).clone(),
        (None, _) => syn::parse_quote!(i64),
    }
}

/// Per inserted field: whether its `None` is written as DEFAULT (an
/// `Option` field under `treat_none_as_default_value`, `true` by default).
pub(crate) fn default_when_none(input: &Input, fields: &[&Field]) -> Vec<bool> {
    let none_as_default = input.attrs.none_as_default.unwrap_or(true);
    fields
        .iter()
        .map(|f| is_option(f.ty) && f.attrs.none_as_default.unwrap_or(none_as_default))
        .collect()
}

/// The fields `#[fk(natural_key(..))]` lists, each name that is not an
/// inserted field left out after an error.
pub(crate) fn natural_key<'a>(
    cx: &Ctxt,
    input: &Input,
    fields: &[&'a Field<'a>],
) -> Vec<&'a Field<'a>> {
    let ident = &input.original.ident;
    let Some((_, names)) = &input.attrs.natural_key else {
        return Vec::new();
    };
    let mut resolved = Vec::new();
    for name in names {
        match fields.iter().copied().find(|f| f.ident == name) {
            Some(field) => resolved.push(field),
            None => match fields.iter().find(|f| f.column() == name) {
                // natural_key lists fields (its value is a tuple of
                // theirs), unlike foreign_key, which names columns.
                Some(field) => cx.error_help(
                    name.span(),
                    format!(
                        "natural_key lists fields, and `{name}` is the column of field `{}`",
                        field.ident
                    ),
                    format!(
                        "write natural_key({}): the key's value is a tuple of the fields' types",
                        field.ident
                    ),
                ),
                None => cx.error_help(
                    name.span(),
                    format!("unknown natural-key field `{name}` on `{ident}`"),
                    format!(
                        "natural_key lists fields of `{ident}` backed by a UNIQUE constraint: {}",
                        fields
                            .iter()
                            .map(|f| f.ident.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            },
        }
    }
    resolved
}

/// What a foreign-key column written in an attribute resolves to.
enum ColumnOf<'a> {
    /// The inserted field written to that column.
    Field(&'a Field<'a>),
    /// A field on that column that is `skip_insertion`.
    Skipped,
    /// No field is written to the column, but a field has its name (and
    /// another column).
    FieldName(&'a Field<'a>),
    Unknown,
}

fn column_of<'a>(input: &'a Input<'a>, fields: &[&'a Field<'a>], column: &Ident) -> ColumnOf<'a> {
    if let Some(field) = fields.iter().copied().find(|f| f.column() == column) {
        return ColumnOf::Field(field);
    }
    let skipped = input
        .fields
        .iter()
        .flatten()
        .any(|f| f.attrs.skip_insertion && f.column() == column);
    if skipped {
        return ColumnOf::Skipped;
    }
    match fields.iter().copied().find(|f| f.ident == column) {
        Some(field) => ColumnOf::FieldName(field),
        None => ColumnOf::Unknown,
    }
}

/// The field of foreign-key column `column`, or an error at `span`.
fn foreign_key_field<'a>(
    cx: &Ctxt,
    input: &'a Input<'a>,
    fields: &[&'a Field<'a>],
    column: &Ident,
    span: Span,
) -> Option<&'a Field<'a>> {
    let ident = &input.original.ident;
    match column_of(input, fields, column) {
        ColumnOf::Field(field) => return Some(field),
        ColumnOf::Skipped => cx.error_help(
            span,
            format!("the field of foreign-key column `{column}` is marked #[diesel(skip_insertion)]"),
            "a foreign key fk-safe fills must be inserted; remove skip_insertion",
        ),
        ColumnOf::FieldName(field) => cx.error_help(
            span,
            format!(
                "foreign_key names a column, and field `{column}` is written to column `{}`",
                field.column()
            ),
            format!(
                "write foreign_key = {}: as in Diesel's belongs_to, a foreign key is the column's name (the field's #[diesel(column_name)], else the field's name)",
                field.column()
            ),
        ),
        ColumnOf::Unknown => {
            let columns = fields
                .iter()
                .map(|f| {
                    if f.column() == f.ident {
                        f.ident.to_string()
                    } else {
                        format!("{} (field `{}`)", f.column(), f.ident)
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            cx.error_help(
                span,
                format!("no field of `{ident}` is written to foreign-key column `{column}`"),
                format!("foreign_key names a column of `{ident}`, as in Diesel's belongs_to: {columns}"),
            );
        }
    }
    None
}

/// The model's relations: each `belongs_to`, then each `#[fk(relation(..))]`
/// that declares one (with a `parent`) or names one (without). A relation
/// whose foreign key does not resolve to a field of its own is left out
/// after an error.
fn relations<'a>(cx: &Ctxt, input: &'a Input<'a>, fields: &[&'a Field<'a>]) -> Vec<Relation<'a>> {
    let ident = &input.original.ident;
    let mut relations: Vec<Relation> = Vec::new();
    let taken =
        |relations: &[Relation], field: &Field| relations.iter().any(|r| r.has_field(field));
    for belongs in &input.attrs.belongs_to {
        let (fk, span) = match &belongs.foreign_key {
            Some(fk) => (fk.clone(), fk.span()),
            None => {
                let default = default_foreign_key(&belongs.parent);
                let span = belongs.parent.span();
                (Ident::new(&default, span), span)
            }
        };
        let Some(field) = foreign_key_field(cx, input, fields, &fk, span) else {
            continue;
        };
        if taken(&relations, field) {
            cx.error_help(
                span,
                format!("ambiguous relation: foreign key `{fk}` appears in two belongs_to"),
                "a field can point at one parent only; remove one belongs_to",
            );
            continue;
        }
        relations.push(Relation {
            name: fk.clone(),
            parent: Parent::Type(belongs.parent.clone()),
            fields: vec![field],
            part_spans: vec![span],
            span,
            sole_to_parent: true,
        });
    }
    // The belongs_to already named by a #[fk(relation(name = ..))].
    let mut renamed: Vec<usize> = Vec::new();
    for named in &input.attrs.relations {
        let first = &named.foreign_key[0];
        match &named.parent {
            // A relation of fk-safe's own (composite, to a table, or not in
            // belongs_to).
            Some(parent) => {
                let mut parts = Vec::new();
                for column in &named.foreign_key {
                    match foreign_key_field(cx, input, fields, column, column.span()) {
                        // The parse stage already refused a column listed
                        // twice in this relation.
                        Some(field) if taken(&relations, field) => {
                            cx.error_help(
                                column.span(),
                                format!(
                                    "ambiguous relation: foreign key `{column}` belongs to two relations"
                                ),
                                "a field can point at one parent only",
                            );
                        }
                        Some(field) => parts.push(field),
                        // Reported by foreign_key_field.
                        None => {}
                    }
                }
                if parts.len() == named.foreign_key.len() {
                    relations.push(Relation {
                        name: named.name.clone().unwrap_or_else(|| first.clone()),
                        parent: parent.clone(),
                        fields: parts,
                        part_spans: named.foreign_key.iter().map(Ident::span).collect(),
                        span: first.span(),
                        sole_to_parent: true,
                    });
                }
            }
            None if named.foreign_key.len() > 1 => {
                cx.error_help(
                    first.span(),
                    "a composite foreign key needs its parent",
                    "write #[fk(relation(name = .., parent = parents, foreign_key(a, b)))], the columns in the order of the parent's key",
                );
            }
            None => {
                let Some(field) = foreign_key_field(cx, input, fields, first, first.span()) else {
                    continue;
                };
                match relations
                    .iter_mut()
                    .enumerate()
                    .find(|(_, r)| r.fields.len() == 1 && r.fields[0].ident == field.ident)
                {
                    Some((index, _)) if renamed.contains(&index) => {
                        cx.error_help(
                            first.span(),
                            format!("the relation of foreign key `{first}` is named twice"),
                            "a relation has one name: keep one #[fk(relation(name = .., foreign_key = ..))] for it",
                        );
                    }
                    Some((index, relation)) => {
                        if let Some(name) = &named.name {
                            relation.name = name.clone();
                        }
                        renamed.push(index);
                    }
                    None => {
                        cx.error_help(
                            first.span(),
                            format!("no belongs_to of `{ident}` uses foreign key `{first}`"),
                            format!(
                                "declare it first: #[diesel(belongs_to(Parent, foreign_key = {first}))], or give the relation its parent table: #[fk(relation(name = .., parent = parents, foreign_key = {first}))]"
                            ),
                        );
                    }
                }
            }
        }
    }
    let parents: Vec<String> = relations.iter().map(|r| parent_key(&r.parent)).collect();
    for (i, relation) in relations.iter_mut().enumerate() {
        relation.sole_to_parent = parents.iter().filter(|p| **p == parents[i]).count() == 1;
    }
    relations
}

/// Diesel's default foreign key for `belongs_to(UserProfile)`: `user_profile_id`.
fn default_foreign_key(parent: &Path) -> String {
    let name = parent
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    let mut snake = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                snake.push('_');
            }
            snake.extend(c.to_lowercase());
        } else {
            snake.push(c);
        }
    }
    snake.push_str("_id");
    snake
}

/// The parent as written, for telling whether two relations name the same
/// one (a table module and the `::table` in it are the same table).
fn parent_key(parent: &Parent) -> String {
    match parent {
        Parent::Table(path) => format!("{}::table", path_key(path)),
        Parent::Type(path) => path_key(path),
    }
}

fn path_key(path: &Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

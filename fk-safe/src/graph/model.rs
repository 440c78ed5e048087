//! What `#[derive(FkOrdered)]` generates for a model, and the key types it
//! moves between parents and children.

use std::any::TypeId;
use std::marker::PhantomData;

use diesel::backend::Backend;
use diesel::query_builder::AstPass;
use diesel::QueryResult;

pub use crate::fk::KeyValue;
use crate::fk::NATURAL_KEY_SEPARATOR;

/// A Rust type a key can be read as (the `Key` of a model): `i64`, `i32`,
/// `String`, and `uuid::Uuid` with the `uuid` feature.
pub trait GraphKey: Sized + Clone + Send + Sync + 'static {
    /// Keys the database generates in insert order (sequences, identity
    /// columns, rowids): a multi-row insert's keys can be matched to its rows
    /// by sorting. Other generated keys are written one row per statement.
    const IN_INSERT_ORDER: bool;
    /// This key as fk-safe carries it.
    fn to_key_value(&self) -> KeyValue;
    /// The key back from fk-safe's form; `None` when it does not fit.
    fn from_key_value(value: &KeyValue) -> Option<Self>;
    /// The key from its text (`CAST(key AS TEXT)` in a `RETURNING` clause).
    fn parse_returned(text: &str) -> Option<KeyValue>;
}

impl GraphKey for i64 {
    const IN_INSERT_ORDER: bool = true;
    fn to_key_value(&self) -> KeyValue {
        KeyValue::Int(*self)
    }
    fn from_key_value(value: &KeyValue) -> Option<Self> {
        match value {
            KeyValue::Int(v) => Some(*v),
            _ => None,
        }
    }
    fn parse_returned(text: &str) -> Option<KeyValue> {
        text.parse().ok().map(KeyValue::Int)
    }
}

impl GraphKey for i32 {
    const IN_INSERT_ORDER: bool = true;
    fn to_key_value(&self) -> KeyValue {
        KeyValue::Int(i64::from(*self))
    }
    fn from_key_value(value: &KeyValue) -> Option<Self> {
        match value {
            KeyValue::Int(v) => i32::try_from(*v).ok(),
            _ => None,
        }
    }
    fn parse_returned(text: &str) -> Option<KeyValue> {
        text.parse().ok().map(KeyValue::Int)
    }
}

impl GraphKey for String {
    const IN_INSERT_ORDER: bool = false;
    fn to_key_value(&self) -> KeyValue {
        KeyValue::Text(self.clone())
    }
    fn from_key_value(value: &KeyValue) -> Option<Self> {
        match value {
            KeyValue::Text(v) => Some(v.clone()),
            _ => None,
        }
    }
    fn parse_returned(text: &str) -> Option<KeyValue> {
        Some(KeyValue::Text(text.to_string()))
    }
}

macro_rules! tuple_keys {
    ($(($($part:ident $index:tt),+))*) => {$(
        /// A composite key chosen by the client (its parts are fields of the model).
        impl<$($part: GraphKey),+> GraphKey for ($($part,)+) {
            const IN_INSERT_ORDER: bool = false;
            fn to_key_value(&self) -> KeyValue {
                KeyValue::Composite(vec![$(self.$index.to_key_value()),+])
            }
            fn from_key_value(value: &KeyValue) -> Option<Self> {
                match value {
                    KeyValue::Composite(parts) => Some(($($part::from_key_value(parts.get($index)?)?,)+)),
                    _ => None,
                }
            }
            /// The parts as fk-safe reads a composite key back (see
            /// `split_key_text`), so that no part's text can be taken for
            /// another's.
            fn parse_returned(text: &str) -> Option<KeyValue> {
                let parts = split_key_text(text, [$($index),+].len())?;
                let mut parts = parts.into_iter();
                let values = vec![$($part::parse_returned(parts.next()?)?),+];
                Some(KeyValue::Composite(values))
            }
        }
    )*};
}

tuple_keys! {
    (A 0, B 1)
    (A 0, B 1, C 2)
}

#[cfg(feature = "uuid")]
impl GraphKey for uuid::Uuid {
    const IN_INSERT_ORDER: bool = false;
    fn to_key_value(&self) -> KeyValue {
        KeyValue::Uuid(*self)
    }
    fn from_key_value(value: &KeyValue) -> Option<Self> {
        match value {
            KeyValue::Uuid(v) => Some(*v),
            _ => None,
        }
    }
    fn parse_returned(text: &str) -> Option<KeyValue> {
        uuid::Uuid::parse_str(text).ok().map(KeyValue::Uuid)
    }
}

/// A composite key as fk-safe's SQL reads it back: each part's text
/// prefixed by its length in characters and a colon (`1:7` `4:rust` ->
/// `1:74:rust`), the database's `CAST(part AS TEXT)` and `LENGTH(..)` doing
/// the writing. Unlike a separator, a length cannot be forged by a part's
/// text. `None` unless `text` holds exactly `parts` parts.
pub(crate) fn split_key_text(text: &str, parts: usize) -> Option<Vec<&str>> {
    let mut rest = text;
    let mut out = Vec::with_capacity(parts);
    for _ in 0..parts {
        let (length, tail) = rest.split_once(':')?;
        if length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let length: usize = length.parse().ok()?;
        let end = match tail.char_indices().nth(length) {
            Some((end, _)) => end,
            None if tail.chars().count() == length => tail.len(),
            None => return None,
        };
        out.push(&tail[..end]);
        rest = &tail[end..];
    }
    rest.is_empty().then_some(out)
}

/// A foreign-key field's value as a key, `None` for SQL NULL. Implemented
/// for the field types a foreign key can have.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold a parent's generated key",
    label = "this foreign key's field type",
    note = "help: fk-safe fills foreign keys of type i64, i32, String or uuid::Uuid (feature `uuid`), or an Option of one"
)]
pub trait ForeignKeyField {
    /// The value of the field as fk-safe carries keys.
    fn key_value(&self) -> Option<KeyValue>;
}

impl<K: GraphKey> ForeignKeyField for K {
    fn key_value(&self) -> Option<KeyValue> {
        Some(self.to_key_value())
    }
}

impl<K: GraphKey> ForeignKeyField for Option<K> {
    fn key_value(&self) -> Option<KeyValue> {
        self.as_ref().map(GraphKey::to_key_value)
    }
}

/// Reads a field as a key when its type can be one, for
/// [`FkOrdered::column_key`]: `(&KeyProbe(&field)).probe_key()` resolves
/// to [`ProbeKey`] for a [`ForeignKeyField`] type and falls back to
/// [`ProbeAny`] (no value) for any other, so that a model with fields of
/// any type still derives.
#[doc(hidden)]
pub struct KeyProbe<'a, T>(pub &'a T);

/// The value of a field whose type can hold a key.
#[doc(hidden)]
pub trait ProbeKey {
    /// `Some(None)` for NULL.
    fn probe_key(&self) -> Option<Option<KeyValue>>;
}

impl<T: ForeignKeyField> ProbeKey for KeyProbe<'_, T> {
    fn probe_key(&self) -> Option<Option<KeyValue>> {
        Some(self.0.key_value())
    }
}

/// The fallback for a field whose type cannot hold a key: no value.
#[doc(hidden)]
pub trait ProbeAny {
    /// Always `None`.
    fn probe_key(&self) -> Option<Option<KeyValue>>;
}

impl<T> ProbeAny for &KeyProbe<'_, T> {
    fn probe_key(&self) -> Option<Option<KeyValue>> {
        None
    }
}

/// One foreign key of a model, as the derive read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelationInfo {
    /// The relation's name: the one given in `#[fk(relation(name = ..))]`,
    /// else the foreign-key field's name.
    pub name: &'static str,
    /// The parent type named in `belongs_to`, as written.
    pub parent: &'static str,
    /// The foreign-key fields of the model (several for a composite key).
    pub fields: &'static [&'static str],
    /// The foreign-key columns' SQL names, in the parent key's order.
    pub columns: &'static [&'static str],
    /// Every foreign-key field is an `Option`: a row can be written with the
    /// key NULL and linked afterwards, which is how a cycle is broken.
    pub nullable: bool,
}

/// A model that fk-safe can order and insert. Derive it with
/// `#[derive(FkOrdered)]`; implementing it by hand is not supported.
pub trait FkOrdered: Sized + Send + Sync + 'static {
    /// The Diesel table the model is inserted into.
    type Table: 'static;
    /// The model's generated key (`i64` unless `#[fk(key = ..)]` says otherwise).
    type Key: GraphKey;
    /// The model's Rust name.
    const MODEL: &'static str;
    /// The SQL names of the inserted columns, in the order their values are written.
    const COLUMNS: &'static [&'static str];
    /// The SQL name of the key column read back with `RETURNING` (the
    /// first one of a composite key).
    const KEY_COLUMN: &'static str;
    /// The SQL names of all key columns, in key order: several for a
    /// composite key chosen by the client.
    const KEY_COLUMNS: &'static [&'static str] = &[Self::KEY_COLUMN];
    /// The model's foreign keys, in declaration order.
    const RELATIONS: &'static [RelationInfo];
    /// The SQL names of the natural-key columns (`#[fk(natural_key(..))]`),
    /// empty when the model has none.
    const NATURAL_KEY: &'static [&'static str];

    /// The `TypeId` of the table of relation `relation`'s parent.
    fn parent_table(relation: usize) -> Option<TypeId>;

    /// The current value of relation `relation`'s foreign-key field.
    fn foreign_key(&self, relation: usize) -> Option<KeyValue>;

    /// The row's own key when the model carries its key column as a field
    /// (keys chosen by the client); `None` when the database generates it.
    fn own_key(&self) -> Option<KeyValue> {
        None
    }

    /// The value this row writes to `column` (an SQL name of
    /// [`COLUMNS`](FkOrdered::COLUMNS)) as a key, `Some(None)` for NULL;
    /// `None` when the model writes no such column or its field's type
    /// cannot be a key. Finds the input row behind a violation of a foreign
    /// key the model does not declare.
    fn column_key(&self, column: &str) -> Option<Option<KeyValue>> {
        let _ = column;
        None
    }

    /// The row's natural key as text, as the database's `CAST(.. AS TEXT)`
    /// prints it (parts joined by U+001F); `None` without a natural key.
    fn natural_key_text(&self) -> Option<String> {
        None
    }

    /// The columns this row leaves to their DEFAULT: bit `i` for
    /// [`COLUMNS`](FkOrdered::COLUMNS)`[i]`, set for an `Option` field that is
    /// `None` where Diesel's `Insertable` writes DEFAULT
    /// (`treat_none_as_default_value`, on unless turned off).
    fn default_columns(&self) -> u64 {
        0
    }

    /// A key read back from `RETURNING CAST(key AS TEXT)`.
    fn parse_key(text: &str) -> Option<KeyValue> {
        <Self::Key as GraphKey>::parse_returned(text)
    }
}

/// A model with `#[fk(natural_key(..))]`, so that
/// [`Graph::get_or_insert`](crate::graph::Graph::get_or_insert) can find an
/// existing row instead of inserting it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no natural key",
    note = "help: declare the fields that identify a row (backed by a UNIQUE constraint): #[fk(natural_key(email))]"
)]
pub trait HasNaturalKey: FkOrdered {
    /// The natural key's value: the field's type, or a tuple of the fields'
    /// types in the order `natural_key(..)` lists them.
    type NaturalKey: Send + Sync + 'static;

    /// The key as text, the way [`FkOrdered::natural_key_text`] prints a row's.
    fn key_text(key: &Self::NaturalKey) -> String;
}

/// Writes a natural-key value as bind parameters. Generated with
/// [`HasNaturalKey`] for every backend the fields' types support.
pub trait WriteNaturalKey<DB: Backend>: HasNaturalKey + WriteRow<DB> {
    /// Writes the parts of `key` as bind parameters, comma-separated, each
    /// with its column's SQL type.
    fn write_key_values<'b>(
        key: &'b Self::NaturalKey,
        out: &mut AstPass<'_, 'b, DB>,
    ) -> QueryResult<()>;
}

/// A natural-key field, printed the way the database prints it as text.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be part of a natural key",
    note = "help: natural keys are made of text and integer fields"
)]
pub trait NaturalKeyValue {
    /// The value as `CAST(value AS TEXT)` prints it.
    fn key_text(&self) -> String;
}

impl NaturalKeyValue for String {
    fn key_text(&self) -> String {
        self.clone()
    }
}

impl NaturalKeyValue for &str {
    fn key_text(&self) -> String {
        (*self).to_string()
    }
}

macro_rules! integer_natural_key_values {
    ($($t:ty),*) => {$(
        impl NaturalKeyValue for $t {
            fn key_text(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

integer_natural_key_values!(i16, i32, i64);

#[cfg(feature = "uuid")]
impl NaturalKeyValue for uuid::Uuid {
    fn key_text(&self) -> String {
        self.hyphenated().to_string()
    }
}

/// A composite key from its parts; `None` (SQL NULL) when any part is NULL,
/// as MATCH SIMPLE treats such a key.
#[doc(hidden)]
pub fn composite_key(parts: Vec<Option<KeyValue>>) -> Option<KeyValue> {
    parts
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .map(KeyValue::Composite)
}

#[doc(hidden)]
pub fn join_natural_key(parts: &[String]) -> String {
    parts.join(&NATURAL_KEY_SEPARATOR.to_string())
}

/// Writes a model's values into an `INSERT`. Generated by the derive for
/// every backend the model's field types support.
pub trait WriteRow<DB: Backend>: FkOrdered {
    /// Writes the table's name.
    fn write_table(out: &mut AstPass<'_, '_, DB>) -> QueryResult<()>;

    /// The SQL of relation `relation`'s parent table and key column(s), as
    /// this backend writes them; `None` when there is no such relation.
    fn parent_sql(relation: usize) -> QueryResult<Option<ParentSql>>;

    /// Writes the row's natural-key fields as bind parameters,
    /// comma-separated, each with its column's SQL type.
    fn write_natural_key_values<'b>(&'b self, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()>;

    /// Writes the row's values as bind parameters, comma-separated, in
    /// [`FkOrdered::COLUMNS`] order, leaving out the columns whose bit is set
    /// in `omitted` (see [`FkOrdered::default_columns`]); a foreign key
    /// linked to a parent takes the parent's key from `links` instead of the
    /// field.
    fn write_values<'b>(
        &'b self,
        links: &'b [LinkedKey],
        omitted: u64,
        out: &mut AstPass<'_, 'b, DB>,
    ) -> QueryResult<()>;
}

/// What one relation's foreign key of a row is written as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkedKey {
    /// Not linked: the field's own value.
    Field,
    /// Linked to a parent written (or found) before: that parent's key.
    Parent(KeyValue),
    /// Linked to a parent written after the row (a link that closes a
    /// cycle): NULL now, the parent's key once both rows exist.
    AfterInsert,
}

impl LinkedKey {
    /// The parent's key, when the row is written with it.
    pub fn parent(&self) -> Option<&KeyValue> {
        match self {
            LinkedKey::Parent(key) => Some(key),
            LinkedKey::Field | LinkedKey::AfterInsert => None,
        }
    }

    /// What column `column` (of the relation's columns) of relation
    /// `relation` is written as, given a row's `links`.
    pub fn column_of(links: &[LinkedKey], relation: usize, column: usize) -> LinkedColumn<'_> {
        match links.get(relation) {
            Some(LinkedKey::AfterInsert) => LinkedColumn::AfterInsert,
            Some(LinkedKey::Parent(key)) => match key.column(column) {
                Some(key) => LinkedColumn::Parent(key),
                None => LinkedColumn::Field,
            },
            Some(LinkedKey::Field) | None => LinkedColumn::Field,
        }
    }
}

/// What one column of a relation's foreign key is written as: see
/// [`LinkedKey::column_of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkedColumn<'a> {
    /// The field's own value.
    Field,
    /// That column of the parent's key.
    Parent(&'a KeyValue),
    /// NULL, until the link is written after the insert.
    AfterInsert,
}

/// A parent table and its key column, rendered for one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentSql {
    /// The table as it appears in a FROM clause (quoted, maybe qualified).
    pub table: String,
    /// The key column (quoted, maybe qualified); several, comma-separated,
    /// for a composite key.
    pub key: String,
}

/// `M` has exactly one foreign key to table `T`, the relation with index
/// `RELATION`, so a row of `M` can be linked with
/// [`Node::parent`](crate::graph::Node::parent). (The index is a parameter,
/// not an associated constant, so that the impls of one model never overlap
/// whatever crate its parent types come from.)
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no single foreign key to the table of this parent",
    label = "this parent's table is not one `{Self}` belongs to, or it is one of several",
    note = "declare the relation with #[diesel(belongs_to(Parent, foreign_key = field))] on `{Self}`; \
            when `{Self}` has several foreign keys to the same table, name the one you mean with \
            `.parent_via({Self}::RELATION_NAME, handle)`"
)]
pub trait References<T, const RELATION: usize> {}

/// A named relation of model `M` to table `T`, generated as an associated
/// constant (the foreign-key field's name in upper case, or the name given
/// in `#[fk(relation(name = ..))]`).
pub struct Relation<M, T> {
    index: usize,
    _types: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Relation<M, T> {
    #[doc(hidden)]
    pub const fn new(index: usize) -> Self {
        Relation {
            index,
            _types: PhantomData,
        }
    }

    pub(crate) fn index(&self) -> usize {
        self.index
    }
}

impl<M, T> Clone for Relation<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, T> Copy for Relation<M, T> {}

impl<M, T> std::fmt::Debug for Relation<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Relation({})", self.index)
    }
}

/// The table a type names as a relation's parent in `belongs_to(Parent)` or
/// `#[fk(relation(parent = Parent, ..))]`: a type with Diesel's `HasTable`
/// (an `Identifiable` struct, or a table type such as `authors::table`).
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot name a relation's parent",
    label = "not a Diesel table type or `Identifiable` struct",
    note = "help: name the parent's table as in `table_name` (#[fk(relation(parent = authors, foreign_key = author_id))]), or an `Identifiable` struct of it"
)]
pub trait ParentTable {
    /// The parent's table.
    type Table: diesel::Table + 'static;
    /// That table.
    fn table() -> Self::Table;
}

#[diagnostic::do_not_recommend]
impl<T> ParentTable for T
where
    T: diesel::associations::HasTable,
    T::Table: 'static,
{
    type Table = T::Table;
    fn table() -> Self::Table {
        T::table()
    }
}

/// Compile-time check that a foreign-key column's SQL type matches the
/// parent key's (a nullable foreign key matches a non-null key).
#[diagnostic::on_unimplemented(
    message = "the foreign key's SQL type `{Self}` does not match the parent's key type `{P}`",
    note = "help: make the foreign-key column the same type as the parent's primary key (a nullable foreign key may point at a non-null key)"
)]
pub trait SameKeyType<P> {}

impl<T> SameKeyType<T> for T {}
impl<T> SameKeyType<T> for diesel::sql_types::Nullable<T> where T: diesel::sql_types::SqlType {}
// `diesel print-schema` declares a SQLite `INTEGER PRIMARY KEY` nullable.
impl<T> SameKeyType<diesel::sql_types::Nullable<T>> for T where T: diesel::sql_types::SqlType {}

/// The SQL type of column `N` of a composite key (whose SQL type is a
/// tuple), for checking a composite foreign key's columns one by one.
pub trait KeyColumnSql<const N: usize> {
    /// The part's SQL type.
    type Sql;
}

impl<A, B> KeyColumnSql<0> for (A, B) {
    type Sql = A;
}
impl<A, B> KeyColumnSql<1> for (A, B) {
    type Sql = B;
}
impl<A, B, C> KeyColumnSql<0> for (A, B, C) {
    type Sql = A;
}
impl<A, B, C> KeyColumnSql<1> for (A, B, C) {
    type Sql = B;
}
impl<A, B, C> KeyColumnSql<2> for (A, B, C) {
    type Sql = C;
}

#[doc(hidden)]
pub const fn assert_same_key_type<Fk: SameKeyType<Pk>, Pk>() {}

/// The single key column of a table, for a model that does not name its key
/// with `#[diesel(primary_key(..))]`: the table's own primary key.
#[diagnostic::on_unimplemented(
    message = "this table's primary key has several columns, so fk-safe cannot tell the model's key",
    note = "help: declare the key on the model, #[diesel(primary_key(a, b))], and add every key column to it as a field: a composite key is chosen by the client"
)]
pub trait SingleKeyColumn {
    /// The column's SQL name.
    const NAME: &'static str;
}

#[diagnostic::do_not_recommend]
impl<C: diesel::Column> SingleKeyColumn for C {
    const NAME: &'static str = C::NAME;
}

/// Whether a column's SQL type admits NULL, read from the Diesel schema.
#[doc(hidden)]
pub trait Nullability {
    /// `true` for `Nullable<..>` columns.
    const NULLABLE: bool;
}

impl Nullability for diesel::sql_types::is_nullable::IsNullable {
    const NULLABLE: bool = true;
}

impl Nullability for diesel::sql_types::is_nullable::NotNull {
    const NULLABLE: bool = false;
}

/// Whether two SQL names are the same, at compile time.
#[doc(hidden)]
pub const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

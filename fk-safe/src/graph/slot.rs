//! Type erasure: a graph keeps each model's rows in a slot, and the
//! planner and writer reach every slot through [`AnySlot`], whatever its
//! model.

use std::any::{Any, TypeId};
use std::marker::PhantomData;

use diesel::backend::Backend;

use crate::graph::ids::Ids;
use crate::graph::model::GraphKey;
use crate::graph::model::{
    HasNaturalKey, KeyValue, LinkedKey, ParentSql, RelationInfo, WriteNaturalKey, WriteRow,
};
use crate::graph::sql::batch::{Batch, TableOf};
use crate::graph::sql::link_update::LinkUpdate;
use crate::graph::sql::lookup;
use crate::graph::table_name::TableName;

/// Where a foreign key of a row takes its value from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// The field's own value (an existing parent's key, or NULL).
    Field,
    /// The generated key of a row of this graph.
    Row { slot: usize, row: usize },
    /// The key of an existing row found by its natural key.
    Lookup { slot: usize, index: usize },
}

/// A natural-key value to look up, whatever its model.
pub(crate) trait ErasedLookup<DB: Backend>: Send + Sync {
    fn text(&self) -> String;
    fn as_values(&self) -> &dyn lookup::MatchValues<DB>;
}

pub(crate) struct LookupOf<M: HasNaturalKey>(pub(crate) M::NaturalKey);

impl<M, DB> lookup::MatchValues<DB> for LookupOf<M>
where
    M: WriteNaturalKey<DB>,
    DB: Backend,
{
    fn write_match_values<'b>(
        &'b self,
        out: &mut diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        M::write_key_values(&self.0, out)
    }
}

impl<M, DB> ErasedLookup<DB> for LookupOf<M>
where
    M: WriteNaturalKey<DB>,
    DB: Backend,
{
    fn text(&self) -> String {
        M::key_text(&self.0)
    }

    fn as_values(&self) -> &dyn lookup::MatchValues<DB> {
        self
    }
}

/// The rows of one model.
pub(crate) struct Slot<M> {
    pub(crate) rows: Vec<M>,
    /// `links[row][relation]`
    pub(crate) links: Vec<Vec<Link>>,
    /// Rows added with `get_or_insert`: reuse the row with the same natural key.
    pub(crate) get_or_insert: Vec<bool>,
    /// The model's table, read from its rendering the first time it is
    /// needed.
    pub(crate) table_name: std::sync::OnceLock<TableName>,
}

/// What the planner and executor need of a slot, whatever its model.
pub(crate) trait AnySlot<DB: Backend>: Send + Sync {
    fn model(&self) -> &'static str;
    /// The `TypeId` of the model's Diesel table.
    fn table_type(&self) -> TypeId;
    /// The `TypeId` of the table relation `relation` points at.
    fn parent_table(&self, relation: usize) -> Option<TypeId>;
    fn relations(&self) -> &'static [RelationInfo];
    fn len(&self) -> usize;
    fn links(&self, row: usize) -> &[Link];
    fn foreign_key(&self, row: usize, relation: usize) -> Option<KeyValue>;
    /// The value `row` writes to `column` as a key (`Some(None)`: NULL).
    fn column_key(&self, row: usize, column: &str) -> Option<Option<KeyValue>>;
    /// The SQL names of the columns the model writes.
    fn columns(&self) -> &'static [&'static str];
    fn own_key(&self, row: usize) -> Option<KeyValue>;
    fn parent_sql(&self, relation: usize) -> diesel::QueryResult<Option<ParentSql>>;
    fn table_sql(&self) -> diesel::QueryResult<String>;
    /// The model's table by name, read once.
    fn table_name(&self) -> diesel::QueryResult<TableName>;
    /// Stores the generated and looked-up keys, typed; the key that does not
    /// fit `M::Key` otherwise.
    fn store_keys(
        &self,
        keys: Vec<KeyValue>,
        found: Vec<KeyValue>,
        existed: Vec<bool>,
        ids: &mut Ids,
    ) -> Result<(), KeyValue>;
    /// Where this model's rows are found by natural key.
    fn natural_key_target(&self) -> lookup::Target<DB>;
    /// The natural keys of `rows`, to find them with.
    fn natural_values<'a>(&'a self, rows: &[usize]) -> Vec<&'a dyn lookup::MatchValues<DB>>;
    /// The update that writes links of `relation` after the insert, given
    /// as (child key, parent key).
    fn link_update<'a>(
        &self,
        relation: usize,
        links: &'a [(KeyValue, KeyValue)],
    ) -> LinkUpdate<'a, DB>;
    fn batch<'a>(
        &'a self,
        rows: &'a [usize],
        links: &'a [Vec<LinkedKey>],
        omitted: u64,
    ) -> Batch<'a, DB>;
    /// The columns `row` leaves to their DEFAULT, given its resolved links
    /// (a linked foreign key is always written).
    fn omitted_columns(&self, row: usize, links: &[LinkedKey]) -> u64;
    fn is_get_or_insert(&self, row: usize) -> bool;
    fn natural_key_text(&self, row: usize) -> Option<String>;
    fn natural_key_columns(&self) -> &'static [&'static str];
    fn parse_key(&self, text: &str) -> Option<KeyValue>;
    fn keys_in_insert_order(&self) -> bool;
    fn key_column(&self) -> &'static str;
    /// Every column of the model's key (several for a composite key).
    fn key_columns(&self) -> &'static [&'static str];
    /// Whether some part of `row`'s own key is a foreign key linked to a
    /// parent: that part is the parent's key, known only once it is written,
    /// and the field holds a placeholder.
    fn own_key_is_linked(&self, row: usize) -> bool {
        let links = self.links(row);
        self.key_columns().iter().any(|column| {
            self.relations().iter().enumerate().any(|(relation, info)| {
                info.columns.contains(column)
                    && links.get(relation).is_some_and(|link| *link != Link::Field)
            })
        })
    }
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<M, DB> AnySlot<DB> for Slot<M>
where
    M: WriteRow<DB>,
    DB: crate::backend::FkBackend + 'static,
{
    fn model(&self) -> &'static str {
        M::MODEL
    }

    fn table_type(&self) -> TypeId {
        TypeId::of::<M::Table>()
    }

    fn parent_table(&self, relation: usize) -> Option<TypeId> {
        M::parent_table(relation)
    }

    fn relations(&self) -> &'static [RelationInfo] {
        M::RELATIONS
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn links(&self, row: usize) -> &[Link] {
        self.links.get(row).map(Vec::as_slice).unwrap_or_default()
    }

    fn foreign_key(&self, row: usize, relation: usize) -> Option<KeyValue> {
        self.rows.get(row)?.foreign_key(relation)
    }

    fn column_key(&self, row: usize, column: &str) -> Option<Option<KeyValue>> {
        self.rows.get(row)?.column_key(column)
    }

    fn columns(&self) -> &'static [&'static str] {
        M::COLUMNS
    }

    fn batch<'a>(
        &'a self,
        rows: &'a [usize],
        links: &'a [Vec<LinkedKey>],
        omitted: u64,
    ) -> Batch<'a, DB> {
        Batch::new::<M>(&self.rows, rows, links, omitted)
    }

    fn omitted_columns(&self, row: usize, links: &[LinkedKey]) -> u64 {
        let Some(values) = self.rows.get(row) else {
            return 0;
        };
        let mut omitted = values.default_columns();
        if omitted == 0 {
            return 0;
        }
        for (relation, info) in M::RELATIONS.iter().enumerate() {
            if links
                .get(relation)
                .is_some_and(|link| *link != LinkedKey::Field)
            {
                for column in info.columns {
                    if let Some(position) = M::COLUMNS.iter().position(|c| c == column) {
                        if position < 64 {
                            omitted &= !(1u64 << position);
                        }
                    }
                }
            }
        }
        omitted
    }

    fn is_get_or_insert(&self, row: usize) -> bool {
        self.get_or_insert.get(row).copied().unwrap_or(false)
    }

    fn natural_key_text(&self, row: usize) -> Option<String> {
        self.rows.get(row)?.natural_key_text()
    }

    fn natural_key_columns(&self) -> &'static [&'static str] {
        M::NATURAL_KEY
    }

    fn parse_key(&self, text: &str) -> Option<KeyValue> {
        M::parse_key(text)
    }

    fn keys_in_insert_order(&self) -> bool {
        <M::Key as GraphKey>::IN_INSERT_ORDER
    }

    fn key_column(&self) -> &'static str {
        M::KEY_COLUMN
    }

    fn key_columns(&self) -> &'static [&'static str] {
        M::KEY_COLUMNS
    }

    fn natural_key_target(&self) -> lookup::Target<DB> {
        lookup::Target {
            table: lookup::MatchTable::Model(M::write_table),
            columns: M::NATURAL_KEY.iter().map(|c| c.to_string()).collect(),
            key_columns: M::KEY_COLUMNS.iter().map(|c| c.to_string()).collect(),
            model: M::MODEL,
        }
    }

    fn natural_values<'a>(&'a self, rows: &[usize]) -> Vec<&'a dyn lookup::MatchValues<DB>> {
        rows.iter()
            .filter_map(|&row| self.rows.get(row))
            .map(|row| row as &dyn lookup::MatchValues<DB>)
            .collect()
    }

    fn own_key(&self, row: usize) -> Option<KeyValue> {
        self.rows.get(row)?.own_key()
    }

    fn parent_sql(&self, relation: usize) -> diesel::QueryResult<Option<ParentSql>> {
        M::parent_sql(relation)
    }

    fn table_sql(&self) -> diesel::QueryResult<String> {
        DB::render(&TableOf::<M>(PhantomData))
    }

    fn table_name(&self) -> diesel::QueryResult<TableName> {
        if let Some(known) = self.table_name.get() {
            return Ok(known.clone());
        }
        let rendered = self.table_sql()?;
        let name = TableName::parse(&rendered).ok_or_else(|| {
            diesel::result::Error::QueryBuilderError(
                format!(
                    "the table of {} renders as {rendered}, not as a table name",
                    M::MODEL
                )
                .into(),
            )
        })?;
        Ok(self.table_name.get_or_init(|| name).clone())
    }

    fn store_keys(
        &self,
        keys: Vec<KeyValue>,
        found: Vec<KeyValue>,
        existed: Vec<bool>,
        ids: &mut Ids,
    ) -> Result<(), KeyValue> {
        let typed = |keys: Vec<KeyValue>| {
            keys.into_iter()
                .map(|key| M::Key::from_key_value(&key).ok_or(key))
                .collect::<Result<Vec<_>, _>>()
        };
        ids.insert::<M>(typed(keys)?, typed(found)?, existed);
        Ok(())
    }

    fn link_update<'a>(
        &self,
        relation: usize,
        links: &'a [(KeyValue, KeyValue)],
    ) -> LinkUpdate<'a, DB> {
        LinkUpdate {
            write_table: M::write_table,
            columns: M::RELATIONS.get(relation).map_or(&[], |r| r.columns),
            key_column: M::KEY_COLUMN,
            links,
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

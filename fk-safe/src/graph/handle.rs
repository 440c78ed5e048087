//! Handles: how a program names the rows it added to a graph, typed by
//! their model.

use std::marker::PhantomData;

use crate::graph::model::FkOrdered;

/// A row added to a [`Graph`](crate::graph::Graph), typed by its model. Cheap to copy; indexes
/// the [`Ids`](crate::graph::Ids) that [`insert_graph`](crate::graph::insert_graph) returns, and reads the row back with
/// [`Graph::get`](crate::graph::Graph::get).
pub struct Handle<M> {
    /// The graph the handle belongs to.
    pub(crate) graph: u64,
    pub(crate) row: usize,
    pub(crate) _model: PhantomData<fn() -> M>,
}

/// An existing row found by [`Graph::lookup`](crate::graph::Graph::lookup). Link children to it like to
/// a [`Handle`], and read its key from the [`Ids`](crate::graph::Ids); it is not written, so it
/// cannot be the child of a link (a compile error):
///
/// ```compile_fail,E0308
/// # use diesel::prelude::*;
/// # use fk_safe::graph::Graph;
/// # use fk_safe::FkOrdered;
/// # diesel::table! { authors (id) { id -> BigInt, email -> Text } }
/// # diesel::table! { posts (id) { id -> BigInt, author_id -> BigInt, slug -> Text } }
/// # #[derive(Identifiable)] #[diesel(table_name = authors)] struct Author { id: i64 }
/// # #[derive(Insertable, FkOrdered)] #[diesel(table_name = authors)] struct NewAuthor { email: String }
/// # #[derive(Insertable, FkOrdered)] #[diesel(table_name = posts)] #[fk(natural_key(slug))]
/// # #[diesel(belongs_to(Author, foreign_key = author_id))]
/// # struct NewPost { author_id: i64, slug: String }
/// let mut graph = Graph::<diesel::sqlite::Sqlite>::new();
/// let post = graph.lookup::<NewPost>("hello".to_string());
/// let author = graph.add(NewAuthor { email: "a@example.com".into() }).handle();
/// graph.link(post, NewPost::AUTHOR_ID, author); // expected `Handle<NewPost>`, found `Lookup<NewPost>`
/// ```
pub struct Lookup<M> {
    pub(crate) graph: u64,
    pub(crate) index: usize,
    pub(crate) _model: PhantomData<fn() -> M>,
}

macro_rules! handle_impls {
    ($name:ident, $field:ident, $what:literal) => {
        impl<M> Clone for $name<M> {
            fn clone(&self) -> Self {
                *self
            }
        }

        impl<M> Copy for $name<M> {}

        impl<M> PartialEq for $name<M> {
            fn eq(&self, other: &Self) -> bool {
                self.graph == other.graph && self.$field == other.$field
            }
        }

        impl<M> Eq for $name<M> {}

        impl<M> std::hash::Hash for $name<M> {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.graph.hash(state);
                self.$field.hash(state);
            }
        }

        impl<M> std::fmt::Debug for $name<M> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(
                    f,
                    concat!(stringify!($name), "<{}>({}{})"),
                    std::any::type_name::<M>(),
                    $what,
                    self.$field
                )
            }
        }
    };
}

handle_impls!(Handle, row, "");
handle_impls!(Lookup, index, "lookup ");

impl<M> Handle<M> {
    /// The position of the row among the rows of its model, in the order
    /// they were added (what a violation's [`RowOrigin::row`](crate::RowOrigin) refers to).
    pub fn row(&self) -> usize {
        self.row
    }
}

impl<M> Lookup<M> {
    /// The position of the look-up among the look-ups of its model.
    pub fn index(&self) -> usize {
        self.index
    }
}

mod sealed {
    /// Keeps [`GraphRow`](super::GraphRow) to fk-safe's two handle types.
    pub trait Sealed {
        /// The graph the handle belongs to.
        fn graph_id(&self) -> u64;
        /// The row's (or look-up's) position, and whether it is a look-up.
        fn position(&self) -> (usize, bool);
    }
}

/// A row of a graph a child can be linked to, and whose key [`Ids`](crate::graph::Ids) holds:
/// a [`Handle`] (added) or a [`Lookup`] (found).
pub trait GraphRow: Copy + sealed::Sealed {
    /// The row's model.
    type Model: FkOrdered;
}

impl<M> sealed::Sealed for Handle<M> {
    fn graph_id(&self) -> u64 {
        self.graph
    }
    fn position(&self) -> (usize, bool) {
        (self.row, false)
    }
}

impl<M> sealed::Sealed for Lookup<M> {
    fn graph_id(&self) -> u64 {
        self.graph
    }
    fn position(&self) -> (usize, bool) {
        (self.index, true)
    }
}

impl<M: FkOrdered> GraphRow for Handle<M> {
    type Model = M;
}

impl<M: FkOrdered> GraphRow for Lookup<M> {
    type Model = M;
}

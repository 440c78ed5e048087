//! Graph inserts: describe rows and how they hang together, and
//! [`insert_graph`] writes them parents first, in batches, in one
//! transaction, filling every child's foreign key from its parent's
//! generated key.
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use diesel::prelude::*;
//! use fk_safe::graph::{insert_graph, Graph};
//! use fk_safe::{FkConnection, FkOrdered};
//!
//! diesel::table! { customers (id) { id -> BigInt, email -> Text } }
//! diesel::table! { orders (id) { id -> BigInt, customer_id -> BigInt, total -> BigInt } }
//!
//! #[derive(Identifiable)]
//! #[diesel(table_name = customers)]
//! struct Customer { id: i64 }
//!
//! #[derive(Insertable, FkOrdered)]
//! #[diesel(table_name = customers)]
//! struct NewCustomer { email: String }
//!
//! #[derive(Insertable, FkOrdered)]
//! #[diesel(table_name = orders)]
//! #[diesel(belongs_to(Customer, foreign_key = customer_id))]
//! struct NewOrder { customer_id: i64, total: i64 }
//!
//! let mut conn = SqliteConnection::establish(":memory:").unwrap();
//! conn.enforce_foreign_keys().unwrap();
//! diesel::sql_query("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL)").execute(&mut conn).unwrap();
//! diesel::sql_query("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id BIGINT NOT NULL REFERENCES customers (id), total BIGINT NOT NULL)")
//!     .execute(&mut conn).unwrap();
//!
//! let mut graph = Graph::new();
//! let alice = graph.add(NewCustomer { email: "alice@example.com".into() }).handle();
//! // The foreign key is filled from alice's generated id; 0 is a placeholder.
//! let order = graph.add(NewOrder { customer_id: 0, total: 4200 }).parent(alice).handle();
//!
//! let ids = insert_graph(&mut conn, &graph).unwrap();
//! let owner: i64 = orders::table.find(ids[order]).select(orders::customer_id).first(&mut conn).unwrap();
//! assert_eq!(owner, ids[alice]);
//! # }
//! ```

// Stages, each importing only the ones it builds on: the public builder
// (handles, the graph, its ids) over type-erased slots; the SQL nodes; the
// plan (order and cycles); the checks before writing; the writer; locating
// a failing row; and execute, the top-level flow.
mod builder;
mod checks;
mod execute;
mod handle;
mod ids;
mod keys;
mod locate;
pub(crate) mod model;
mod own_keys;
mod plan;
mod slot;
mod sql;
mod table_name;
mod writer;

pub use builder::{Graph, Node};
pub use execute::{insert_graph, insert_graph_with};
pub use handle::{GraphRow, Handle, Lookup};
pub use ids::Ids;
pub use model::{
    FkOrdered, ForeignKeyField, GraphKey, HasNaturalKey, KeyValue, NaturalKeyValue, References,
    Relation, WriteNaturalKey, WriteRow,
};

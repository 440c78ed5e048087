//! Turning foreign-key checks off for a bulk load, inside its transaction,
//! and back on: what each backend can do, and with which privileges.

use std::fmt;

use diesel::connection::LoadConnection;

use crate::backend::integrity::{CheckFailed, ReadRows};
use crate::fk::ForeignKey;

/// How a bulk load's foreign-key checks were turned off. Every one of them
/// lasts only as long as the load's transaction (or savepoint): a rollback,
/// an error, a panic in the work or a lost connection brings the checks
/// back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// PostgreSQL: `SET LOCAL session_replication_role = replica`, which a
    /// superuser, an RDS/Aurora `rds_superuser`, or (PostgreSQL 15 and
    /// later) a role granted `SET ON PARAMETER session_replication_role`
    /// may do. It turns off every trigger and rule that is not `ENABLE
    /// REPLICA` or `ENABLE ALWAYS`, on every table, the user's own triggers
    /// included, and so every foreign key of the database; afterwards every
    /// foreign key (as the work left them) whose child or parent table the
    /// transaction holds a write lock on is checked, with its parent table
    /// locked `SHARE` from the check to the end (other sessions' writes to
    /// it wait), since the unchecked rows took no lock on their parents.
    /// Used only in a READ COMMITTED transaction, never to keep orphans
    /// (the constraint would stay marked valid), and a write through a
    /// view whose `INSTEAD OF` trigger it turned off rolls the load back.
    ReplicationRole,
    /// PostgreSQL, for an owner of the child tables without those
    /// privileges: each chosen foreign key is dropped inside the
    /// transaction and added again, as it was declared, after the orphan
    /// check. Dropping holds an `ACCESS EXCLUSIVE` lock on the child and
    /// the parent table until the transaction ends, so other sessions can
    /// neither read nor write them meanwhile.
    RecreatedConstraints,
    /// SQLite with `PRAGMA foreign_keys = ON`: `PRAGMA defer_foreign_keys =
    /// ON`, so that every foreign key of the database is checked at the
    /// end only. SQLite cannot commit a row that breaks an enforced foreign
    /// key, so orphans can never be kept.
    DeferredChecks,
    /// SQLite with `PRAGMA foreign_keys = OFF` on the connection (which
    /// only the connection's owner can change, outside any transaction):
    /// nothing is checked while the work runs, and every foreign key is
    /// checked afterwards.
    ForeignKeysOff,
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mechanism::ReplicationRole => "SET LOCAL session_replication_role = replica",
            Mechanism::RecreatedConstraints => "the foreign keys dropped and added again",
            Mechanism::DeferredChecks => "PRAGMA defer_foreign_keys = ON",
            Mechanism::ForeignKeysOff => "PRAGMA foreign_keys = OFF on the connection",
        })
    }
}

/// What a backend did to turn the checks off, and what must be checked
/// and restored afterwards.
pub struct Suspension<S> {
    /// How.
    pub(crate) mechanism: Mechanism,
    /// What else it turned off or locked, one sentence each.
    pub(crate) effects: Vec<String>,
    /// The backend's own state, for [`SuspendChecks::resume`].
    pub(crate) state: S,
}

/// Why the checks could not be turned off.
#[derive(Debug, thiserror::Error)]
pub enum SuspendFailed {
    /// The caller has none of the privileges any mechanism needs.
    #[error("{0}")]
    NotPermitted(String),
    /// Orphans were asked to be kept where they cannot be.
    #[error("{0}")]
    CannotKeep(String),
    /// A mechanism was asked for that this database or connection cannot
    /// use.
    #[error("{0}")]
    Unavailable(String),
    /// Rows break foreign keys the orphan report does not read (SQLite's
    /// TEMP and attached schemas).
    #[error("{0}")]
    Unreported(String),
    /// A foreign key could not be read for the check.
    #[error(transparent)]
    Check(#[from] CheckFailed),
}

impl From<diesel::result::Error> for SuspendFailed {
    fn from(error: diesel::result::Error) -> Self {
        SuspendFailed::Check(CheckFailed::Query(error))
    }
}

/// How a backend turns foreign-key checks off for a bulk load and back on.
pub trait SuspendChecks: ReadRows {
    /// What [`resume`](Self::resume) needs to know.
    type Suspended;

    /// Turns off the checks of `chosen` (which are among `all`, the whole
    /// catalog) inside the transaction the load has begun, with `wanted`
    /// if given (else the first mechanism the caller's privileges allow),
    /// and says what must be checked afterwards. `keep_orphans` refuses,
    /// before anything changes, a mechanism that cannot commit orphans.
    fn suspend<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        all: &[ForeignKey],
        chosen: &[ForeignKey],
        wanted: Option<Mechanism>,
        keep_orphans: bool,
    ) -> Result<Suspension<Self::Suspended>, SuspendFailed>;

    /// Something that changes when the work ends the load's transaction
    /// (PostgreSQL: the transaction's id; SQLite: whether a transaction is
    /// open at all); `None` where it cannot be told.
    fn transaction_marker<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
    ) -> diesel::QueryResult<Option<String>>;

    /// The foreign keys (among `all`, read after the work) to check for
    /// orphans after the work,
    /// each with how its rows are matched: every one the work could have
    /// broken while the checks were off.
    fn to_check<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        suspension: &Suspension<Self::Suspended>,
        all: &[ForeignKey],
    ) -> Result<Vec<(ForeignKey, Vec<String>)>, SuspendFailed>;

    /// Turns the checks back on for what the transaction does next, after
    /// the work and the orphan check. `kept` are the foreign keys whose
    /// orphans are being kept (a recreated one is then added `NOT VALID`;
    /// the others come back as they were declared). Returns what it did
    /// beyond restoring, one sentence each.
    fn resume<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        suspension: &Suspension<Self::Suspended>,
        kept: &[ForeignKey],
    ) -> diesel::QueryResult<Vec<String>>;

    /// Restores what outlives a savepoint, once the load's savepoint or
    /// transaction has ended, whatever its outcome.
    fn after_transaction<C: LoadConnection<Backend = Self>>(
        conn: &mut C,
        suspension: &Suspension<Self::Suspended>,
    ) -> diesel::QueryResult<()>;
}

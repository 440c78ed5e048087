//! The exit status: which findings fail the run.

use std::fmt;

use fk_safe::integrity::audit;

use crate::scan::Findings;

/// A finding that `--fail-on` can make fail the run (orphans always do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Finding {
    /// Some row references a parent that does not exist (always fails).
    Orphans,
    /// Any cycle, even one that NULL or deferral breaks.
    Cycles,
    /// A cycle that no order, NULL or deferral can write.
    UnbreakableCycles,
    /// An audit finding of this kind (a code of the library's
    /// `Finding::KINDS`).
    Audit(&'static str),
    /// Any audit finding.
    Any,
}

/// The audit's kinds that compare models given in Rust code, which the
/// command has none of: `--fail-on` one of them could never fail, so it is
/// refused rather than ignored.
pub const MODEL_KINDS: &[&str] = &[
    "model-table-missing",
    "model-relation-without-constraint",
    "model-relation-mismatch",
];

/// The command's own findings, before the audit's kinds.
const OWN: &[Finding] = &[
    Finding::Orphans,
    Finding::Cycles,
    Finding::UnbreakableCycles,
];

impl Finding {
    /// Every value `--fail-on` accepts, in the order `--help` lists them.
    pub fn names() -> Vec<&'static str> {
        let mut names: Vec<&'static str> = OWN.iter().map(|f| f.name()).collect();
        names.extend_from_slice(audit::Finding::KINDS);
        names.push(Finding::Any.name());
        names
    }

    /// The finding named `name` (one of [`Finding::names`]).
    pub fn parse(name: &str) -> Option<Finding> {
        if let Some(own) = OWN.iter().find(|f| f.name() == name) {
            return Some(*own);
        }
        if name == Finding::Any.name() {
            return Some(Finding::Any);
        }
        audit::Finding::KINDS
            .iter()
            .find(|kind| **kind == name)
            .map(|kind| Finding::Audit(kind))
    }

    /// The name used on the command line and in the JSON document.
    pub fn name(self) -> &'static str {
        match self {
            Finding::Orphans => "orphans",
            Finding::Cycles => "cycles",
            Finding::UnbreakableCycles => "unbreakable-cycles",
            Finding::Audit(kind) => kind,
            Finding::Any => "any-finding",
        }
    }

    /// Whether a command that reads `findings`' sections looks for it at
    /// all (else `--fail-on` it could never fail, a request ignored).
    pub fn looked_for(self, load_order: bool, orphans: bool, audit: bool) -> bool {
        match self {
            Finding::Orphans => orphans,
            Finding::Cycles | Finding::UnbreakableCycles => load_order,
            Finding::Audit(kind) => audit && !MODEL_KINDS.contains(&kind),
            Finding::Any => audit,
        }
    }

    fn present(self, findings: &Findings) -> bool {
        match self {
            Finding::Orphans => findings.orphans.as_ref().is_some_and(|r| r.found()),
            Finding::Cycles => findings
                .load_order
                .as_ref()
                .is_some_and(|order| !order.cycles.is_empty()),
            Finding::UnbreakableCycles => findings
                .load_order
                .as_ref()
                // A cycle not known to be breakable (SQLite's catalog does
                // not say whether a key is deferrable) fails the gate too.
                .is_some_and(|order| {
                    order
                        .cycles
                        .iter()
                        .any(|cycle| cycle.breakable() != Some(true))
                }),
            Finding::Audit(kind) => findings
                .audit
                .as_ref()
                .is_some_and(|report| report.has_any(&[kind])),
            Finding::Any => findings.audit.as_ref().is_some_and(|r| !r.is_clean()),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which of the chosen findings were found, and whether the answer is
/// complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The findings that fail the run, sorted, each once.
    pub failed_on: Vec<Finding>,
    /// How many foreign keys the database did not let be checked for
    /// orphans.
    pub unchecked: usize,
}

impl Outcome {
    /// Orphans, and each of `fail_on`, that `findings` holds.
    pub fn of(findings: &Findings, fail_on: &[Finding]) -> Outcome {
        let mut chosen = vec![Finding::Orphans];
        chosen.extend_from_slice(fail_on);
        chosen.sort();
        chosen.dedup();
        Outcome {
            failed_on: chosen
                .into_iter()
                .filter(|finding| finding.present(findings))
                .collect(),
            unchecked: findings.orphans.as_ref().map_or(0, |r| r.unchecked().len()),
        }
    }

    /// 1 when something chosen was found (a certain failure, whatever
    /// could not be checked); else 2 when some foreign key could not be
    /// checked (no complete answer); else 0.
    pub fn exit_status(&self) -> u8 {
        if !self.failed_on.is_empty() {
            1
        } else if self.unchecked > 0 {
            2
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_kind_is_a_kind_of_the_library() {
        for kind in MODEL_KINDS {
            assert!(audit::Finding::KINDS.contains(kind), "{kind}");
        }
    }

    #[test]
    fn every_name_parses_back() {
        for name in Finding::names() {
            assert_eq!(Finding::parse(name).map(Finding::name), Some(name));
        }
        assert_eq!(Finding::parse("orphan"), None);
    }
}

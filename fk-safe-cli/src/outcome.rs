//! The exit status: which findings fail the run.

use crate::scan::Findings;

/// A finding that `--fail-on` can make fail the run (orphans always do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Finding {
    /// Some row references a parent that does not exist (always fails).
    Orphans,
    /// Any cycle, even one that NULL or deferral breaks.
    Cycles,
    /// A cycle that no order, NULL or deferral can write.
    UnbreakableCycles,
    // AUDIT: the audit's findings (unindexed foreign keys, NOT VALID
    // constraints, ..) become values here.
}

impl Finding {
    /// The name used on the command line and in the JSON document.
    pub fn name(self) -> &'static str {
        match self {
            Finding::Orphans => "orphans",
            Finding::Cycles => "cycles",
            Finding::UnbreakableCycles => "unbreakable-cycles",
        }
    }

    fn present(self, findings: &Findings) -> bool {
        match self {
            Finding::Orphans => findings.orphans.as_ref().is_some_and(|r| !r.is_clean()),
            Finding::Cycles => findings
                .load_order
                .as_ref()
                .is_some_and(|order| !order.cycles.is_empty()),
            Finding::UnbreakableCycles => findings
                .load_order
                .as_ref()
                .is_some_and(|order| order.unbreakable_cycles().next().is_some()),
        }
    }
}

/// Which of the chosen findings were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The findings that fail the run, sorted, each once.
    pub failed_on: Vec<Finding>,
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
        }
    }

    /// 0 when nothing chosen was found, 1 otherwise.
    pub fn exit_status(&self) -> u8 {
        if self.failed_on.is_empty() {
            0
        } else {
            1
        }
    }
}

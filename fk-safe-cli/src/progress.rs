//! A spinner on stderr for scans that take longer than a moment.
//!
//! The library's report runs all foreign keys in one call, so the spinner
//! says what is being checked and how long it has taken rather than
//! counting keys. It appears only after [`DELAY`] (a quick scan draws
//! nothing) and only when stderr is a terminal (indicatif draws nothing
//! otherwise), so pipes, `--json` consumers and CI logs never see it.

use std::io::IsTerminal;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a step runs before the spinner shows.
const DELAY: Duration = Duration::from_millis(400);

/// A running step; [`finish`](Self::finish) (or dropping it) clears it.
pub struct Progress {
    done: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts a step described by `message`.
    pub fn start(message: &str) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress {
                done: None,
                thread: None,
            };
        }
        let (done, finished) = mpsc::channel::<()>();
        let message = crate::text::printable(message).into_owned();
        let thread = std::thread::spawn(move || {
            if finished.recv_timeout(DELAY) != Err(RecvTimeoutError::Timeout) {
                return;
            }
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                bar.set_style(style);
            }
            bar.set_message(message);
            bar.enable_steady_tick(Duration::from_millis(120));
            // Until the step ends (or its sender is dropped).
            let _ = finished.recv();
            bar.finish_and_clear();
        });
        Progress {
            done: Some(done),
            thread: Some(thread),
        }
    }

    /// Ends the step and clears the spinner before anything else is printed.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}

//! Progress on stderr for long human-format runs on a terminal; silent otherwise.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::args::Format;

/// Below this many files a run is over before progress would help.
const MIN_FILES: usize = 200;

pub struct Progress {
    total: usize,
    done: AtomicUsize,
    enabled: bool,
}

impl Progress {
    pub fn new(total: usize, format: Format) -> Progress {
        Progress {
            total,
            done: AtomicUsize::new(0),
            enabled: format == Format::Human
                && total >= MIN_FILES
                && std::io::stderr().is_terminal(),
        }
    }

    pub fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if self.enabled && (done % 64 == 0 || done == self.total) {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\rchecked {done}/{} files", self.total);
            let _ = err.flush();
        }
    }

    pub fn finish(&self) {
        if self.enabled {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
        }
    }
}

//! Standard output that tells a reader going away from any other failure.
//!
//! Rust ignores SIGPIPE, so writing to a pipe whose reader has closed (`istioctl get vs -o yaml
//! | head -1`) fails with [`io::ErrorKind::BrokenPipe`] instead of killing the process. Every
//! write of istioctl's output goes through [`Stdout`], which marks such a failure as its own
//! (a `BrokenPipe` error carrying [`ReaderGone`]); [`reader_gone`] finds that mark anywhere in
//! an error's chain, and `main` then exits with [`EXIT_READER_GONE`] and prints nothing, like
//! a process killed by SIGPIPE. A broken pipe elsewhere — istiod closing the connection in the
//! middle of a request — stays an error with a message.

use std::fmt;
use std::io::{self, Write};

/// The exit code when standard output's reader went away: 128 + SIGPIPE (13), what a shell
/// reports for a process killed by SIGPIPE.
pub const EXIT_READER_GONE: i32 = 141;

/// The locked standard output; a write that fails because the reader went away fails with a
/// `BrokenPipe` error carrying [`ReaderGone`].
pub struct Stdout(io::StdoutLock<'static>);

impl Stdout {
    /// Locks standard output for this process's output.
    pub fn lock() -> Self {
        Self(io::stdout().lock())
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(mark)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf).map_err(mark)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(mark)
    }
}

/// A `BrokenPipe` failure becomes one that carries [`ReaderGone`]; others pass unchanged.
fn mark(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        io::Error::new(io::ErrorKind::BrokenPipe, ReaderGone)
    } else {
        e
    }
}

/// The mark of a write to standard output that failed because its reader went away.
#[derive(Debug)]
pub struct ReaderGone;

impl fmt::Display for ReaderGone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the reader of standard output went away (broken pipe)")
    }
}

impl std::error::Error for ReaderGone {}

/// Whether `e` (or any error in its chain) is a write to [`Stdout`] that failed because the
/// reader went away.
pub fn reader_gone(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>().is_some_and(|io| {
            io.kind() == io::ErrorKind::BrokenPipe
                && io.get_ref().is_some_and(|inner| inner.is::<ReaderGone>())
        })
    })
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    use super::*;

    fn broken_pipe() -> io::Error {
        io::Error::from(io::ErrorKind::BrokenPipe)
    }

    #[test]
    fn a_marked_broken_pipe_is_found_through_context() {
        let e = anyhow::Error::from(mark(broken_pipe())).context("writing the table");
        assert!(reader_gone(&e));
        let r: anyhow::Result<()> = Err(mark(broken_pipe())).context("a").context("b");
        assert!(reader_gone(&r.unwrap_err()));
    }

    #[test]
    fn other_failures_are_not_the_reader_going_away() {
        // A broken pipe that did not come from standard output (istiod's connection, say).
        assert!(!reader_gone(&anyhow::Error::from(broken_pipe())));
        let other = mark(io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(other.kind(), io::ErrorKind::PermissionDenied);
        assert!(!reader_gone(&anyhow::Error::from(other)));
        assert!(!reader_gone(&anyhow::anyhow!("broken pipe")));
    }
}

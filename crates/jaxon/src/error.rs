//! Error reporting: programmer errors panic with the caller's source line;
//! environment failures are [`Error`] values.

use std::fmt;
use std::panic::Location;

/// Panics with `msg` followed by ` (at file:line:col)` of `loc`.
#[track_caller]
pub fn fail(msg: impl fmt::Display, loc: &'static Location<'static>) -> ! {
    panic!("{msg} (at {}:{}:{})", loc.file(), loc.line(), loc.column())
}

/// Panics with `msg` located at the caller (use from `#[track_caller]` functions).
#[track_caller]
pub fn user_error(msg: impl fmt::Display) -> ! {
    fail(msg, Location::caller())
}

/// A failure of the environment (device, compiler, I/O), not of the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The compiler or a device failed.
    Backend(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Backend(m) => write!(f, "backend error: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<oxla::Error> for Error {
    fn from(e: oxla::Error) -> Error {
        Error::Backend(e.to_string())
    }
}

/// Formats a shape as `[2, 3]` for messages.
pub fn shape_str(shape: &[usize]) -> String {
    format!("{shape:?}")
}

//! Environment and runtime failures (programmer errors panic instead).

use std::fmt;

/// An oxla failure that is not a programmer error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A module failed verification.
    InvalidModule(String),
    /// Arguments do not match the executable's parameters.
    InvalidArgument(String),
    /// A backend failed while running a program.
    Runtime(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidModule(m) => write!(f, "invalid HLO module: {m}"),
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Error::Runtime(m) => write!(f, "runtime error: {m}"),
        }
    }
}

impl std::error::Error for Error {}

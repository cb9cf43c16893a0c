//! punktfunk-host as a library: the services the `punktfunk-host` binary runs, so tests can
//! drive them in-process.
#![warn(missing_docs)]

pub mod gamestream;

//! bench-harness as a library: the broker comparison (`compare`), so its parts are
//! unit-tested and its binary stays a thin command line.

pub mod compare;

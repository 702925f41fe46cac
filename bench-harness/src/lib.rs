//! bench-harness as a library: the broker comparison (`compare`) and the instruction
//! counts (`icount`), so their parts are unit-tested and the binary stays a thin command
//! line.

pub mod compare;
pub mod icount;

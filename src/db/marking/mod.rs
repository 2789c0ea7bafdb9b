//! The marking floor's storage: tasks, leases (serves), the never-twice record, marks.

mod counts;
mod evidence;
mod marks;
mod serves;
mod tasks;

pub use counts::*;
pub use evidence::*;
pub use marks::*;
pub use serves::*;
pub use tasks::*;

//! The marking floor's storage: tasks, leases (serves), the never-twice record, marks.

mod counts;
mod evidence;
mod leasing;
mod marks;
mod scoring;
mod serves;
mod tasks;

pub use counts::*;
pub use evidence::*;
pub use leasing::*;
pub use marks::*;
pub use scoring::*;
pub use serves::*;
pub use tasks::*;

//! How the server's freed memory goes back to the operating system.
//!
//! glibc's allocator serves a block of 128 KiB or more with a mapping of its own, unmapped when
//! freed, until the first such block is freed: then it raises that line to the block's size
//! (up to 32 MiB), and later blocks of that size come from the thread's arena, whose freed
//! memory it keeps. Argon2's 19 MiB a password check, and the statistics' matrices, cross the
//! line at once. With a thousand markers logging in (SQLite, the 30,000-candidate demo), the
//! server held 334 MB of its own memory after the logins and 1 s of marking; with the lines
//! fixed where glibc starts them (big blocks in mappings of their own, an arena's top trimmed
//! once 128 KiB of it are free), 82 MB (set through the environment); with this module, 123 and
//! 128 MB at the peak of 60 s runs, and no loss of rate seen in one run without it on each
//! backend (docs/performance-log.md, eighteenth session).
//!
//! The variables of `ALLOCATOR_ENV` in the environment are an operator's own choice, and are
//! left to glibc.

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether `return_freed_memory` set the lines (the server says so when it starts).
static FIXED: AtomicBool = AtomicBool::new(false);

/// Where the environment tunes glibc's allocator itself: then it is left alone.
pub const ALLOCATOR_ENV: [&str; 3] = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"];

/// glibc's starting line, kept fixed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const LINE: libc::c_int = 128 * 1024;

/// Applies the allocator settings above. Call it first thing in `main`, before any thread
/// starts: glibc does not promise `mallopt` is safe beside other threads (which is also why no
/// test calls it: the test harness runs tests on threads). Not where the environment tunes the
/// allocator itself, nor off glibc: `lines_fixed` says which.
pub fn return_freed_memory() {
    let tuned = ALLOCATOR_ENV.iter().any(|v| std::env::var_os(v).is_some());
    FIXED.store(!tuned && fix_lines(), Ordering::Relaxed);
}

/// Whether this process runs with the lines fixed.
pub fn lines_fixed() -> bool {
    FIXED.load(Ordering::Relaxed)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn fix_lines() -> bool {
    // SAFETY: mallopt only sets two of glibc's tuning values; it touches no memory of ours, and
    // runs before the process starts any thread.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, LINE) == 1 && libc::mallopt(libc::M_TRIM_THRESHOLD, LINE) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fix_lines() -> bool {
    false
}

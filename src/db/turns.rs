//! Turns at SQLite's one write lock between processes. SQLite has no queue for its write lock:
//! a process that finds it taken sleeps and tries again (the busy timeout), and a server whose
//! writer commits batch after batch takes it again within microseconds of each commit. Under
//! load, another process (the command line, a second server on the same file) would then time
//! out however long it waited. So a process about to wait for the lock says so, with a shared
//! lock on a file beside the database (`<file>-turns`), held until its transaction has begun;
//! a server's writer looks there before each batch and, while someone waits, lets them go first.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Turns {
    path: PathBuf,
    /// The writer's own open of the file, to look for waiters.
    file: File,
    /// How long a writer lets waiting processes go first before it takes its turn anyway. A
    /// waiter that still runs retries within SQLite's longest busy sleep (100 ms); one that is
    /// stopped (Ctrl-Z, a debugger) must not hold the server back.
    patience: Duration,
    /// A waiter outlasted the patience: it is not yielded to again until it has gone, so a
    /// stopped process costs the server one wait, not one a batch.
    stuck: AtomicBool,
}

fn open(path: &Path) -> std::io::Result<File> {
    crate::secrets::private_file(path)?;
    OpenOptions::new().read(true).write(true).open(path)
}

/// A waiter's own open of the turns file, its shared lock released when dropped.
pub struct Waiting(File);

impl Drop for Waiting {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl Turns {
    pub fn open(database: &Path, patience: Duration) -> std::io::Result<Turns> {
        let mut path = database.as_os_str().to_owned();
        path.push("-turns");
        let path = PathBuf::from(path);
        let file = open(&path)?;
        Ok(Turns {
            path,
            file,
            patience,
            stuck: AtomicBool::new(false),
        })
    }

    /// Says that this caller waits for the write lock, until the guard is dropped. A file lock
    /// belongs to one open of the file, so each waiter opens it anew (made again if it was
    /// removed).
    pub fn wait(&self) -> std::io::Result<Waiting> {
        let file = open(&self.path)?;
        file.lock_shared()?;
        Ok(Waiting(file))
    }

    /// Lets whoever waits for the write lock go first, for at most `patience`.
    pub fn yield_to_waiters(&self) {
        let started = Instant::now();
        loop {
            match self.file.try_lock() {
                Ok(()) => {
                    let _ = self.file.unlock();
                    self.stuck.store(false, Ordering::Relaxed);
                    return;
                }
                Err(TryLockError::WouldBlock) if self.stuck.load(Ordering::Relaxed) => return,
                Err(TryLockError::WouldBlock) if started.elapsed() < self.patience => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TryLockError::WouldBlock) => {
                    tracing::warn!(
                        file = %self.path.display(),
                        "a process waiting for the database's write lock has not taken it; not waiting for it again until it has gone"
                    );
                    self.stuck.store(true, Ordering::Relaxed);
                    return;
                }
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writer_waits_while_another_process_waits_and_goes_once_it_has_begun() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("markroom.db");
        let writer = Turns::open(&db, Duration::from_secs(5)).unwrap();
        let other = Turns::open(&db, Duration::from_secs(5)).unwrap();

        // Nobody waits: the writer goes at once.
        let t = Instant::now();
        writer.yield_to_waiters();
        assert!(t.elapsed() < Duration::from_millis(50));

        // Someone waits for 200 ms: the writer lets them go first.
        let waiting = other.wait().unwrap();
        let released = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(waiting);
        });
        let t = Instant::now();
        writer.yield_to_waiters();
        let waited = t.elapsed();
        released.join().unwrap();
        assert!(waited >= Duration::from_millis(150), "went after {waited:?}");
        assert!(waited < Duration::from_secs(2), "went after {waited:?}");
    }

    #[test]
    fn a_waiter_that_never_begins_holds_the_writer_back_only_for_its_patience() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("markroom.db");
        let writer = Turns::open(&db, Duration::from_millis(100)).unwrap();
        let stuck = Turns::open(&db, Duration::from_secs(5)).unwrap().wait().unwrap();
        let t = Instant::now();
        writer.yield_to_waiters();
        assert!(t.elapsed() >= Duration::from_millis(100));
        assert!(t.elapsed() < Duration::from_secs(1));
        // Not once a batch: the next batches go at once while it stays stuck...
        let t = Instant::now();
        for _ in 0..10 {
            writer.yield_to_waiters();
        }
        assert!(t.elapsed() < Duration::from_millis(50), "{:?}", t.elapsed());
        // ...and once it has gone, a new waiter is yielded to again.
        drop(stuck);
        writer.yield_to_waiters();
        let _waiting = writer.wait().unwrap();
        let other = Turns::open(&db, Duration::from_millis(100)).unwrap();
        let t = Instant::now();
        other.yield_to_waiters();
        assert!(t.elapsed() >= Duration::from_millis(100));
    }
}

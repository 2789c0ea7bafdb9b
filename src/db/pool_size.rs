//! How many connections a server opens when `database.pool_size` is unset.
//!
//! PostgreSQL: three a core of the machine the server runs on, within 4 to 32. Each connection
//! is a PostgreSQL process, and past a few a core they contend for the cores instead of working:
//! on this project's 2-core machine, with PostgreSQL beside the server, a marking cycle cost
//! PostgreSQL 2.9 to 3.3 ms of CPU with 6 connections and 3.3 to 3.6 ms with 16, and 4 made
//! fewer cycles in the one run tried (README, "Connections" under PostgreSQL). That is for a
//! database sharing the server's machine, the only one whose cores the server can see; for a
//! database on a machine of its own the usual rule (about twice its cores, over all servers)
//! wants `database.pool_size` set.
//!
//! SQLite: 16 readers beside its one writer. A reader is a thread of the server reading pages
//! through the memory map, and more of them cost nothing while they wait.

use super::Backend;

/// The pool size for `backend` on a machine of `cores` cores.
pub fn default_pool_size(backend: Backend, cores: usize) -> u32 {
    match backend {
        Backend::Postgres => u32::try_from(cores.saturating_mul(3)).unwrap_or(u32::MAX).clamp(4, 32),
        Backend::Sqlite => 16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_takes_three_a_core_within_four_and_thirty_two() {
        assert_eq!(default_pool_size(Backend::Postgres, 1), 4);
        assert_eq!(default_pool_size(Backend::Postgres, 2), 6);
        assert_eq!(default_pool_size(Backend::Postgres, 8), 24);
        assert_eq!(default_pool_size(Backend::Postgres, 64), 32);
        assert_eq!(default_pool_size(Backend::Postgres, usize::MAX), 32);
    }

    #[test]
    fn sqlite_keeps_sixteen_readers_whatever_the_machine() {
        for cores in [1, 2, 64] {
            assert_eq!(default_pool_size(Backend::Sqlite, cores), 16);
        }
    }
}

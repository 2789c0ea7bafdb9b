//! markroom: the closed marking room of an exam.
//!
//! Layers: `http` translates requests and calls `domain` (the rules, pure) and `db` (storage).
//! `audit` keeps the hash-chained log; `config` reads the layered settings. `storage` keeps
//! scans (a local folder or an object store); `vault` seals candidate identity.

pub mod audit;
pub mod backup;
pub mod bootstrap;
pub mod clock;
pub mod config;
#[cfg(test)]
mod config_reference;
pub mod db;
pub mod demo;
pub mod domain;
pub mod http;
pub mod memory;
pub mod scans;
pub mod secrets;
pub mod simulate;
pub mod stats_command;
pub mod storage;
pub mod vault;

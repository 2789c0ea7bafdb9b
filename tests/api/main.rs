#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Whole-service tests: the real HTTP server on a free port against a real database of its own
//! (a fresh SQLite file, or a fresh PostgreSQL database when DATABASE_URL names a server).

mod admin_routes;
mod approvals;
mod audit_chain;
mod auth;
mod authorization;
mod candidates;
mod cli;
mod custody;
mod demo;
mod errors;
mod exam_list;
mod exams;
mod facts;
mod floor;
mod forged_tokens;
mod helpers;
mod lead_reads;
mod login_throttle;
mod markers;
mod marking;
mod pages;
mod people;
mod qualification;
mod queries;
mod results;
mod reviews;
mod room_workstations;
mod routes;
mod secrets;
mod sheets;
mod simulate;
mod storage;
mod templates;
mod workstations;

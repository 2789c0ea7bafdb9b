//! The real binary, served in a process of its own for the tests that need its log or its death.

use std::net::TcpListener;
use std::time::Duration;

/// A served `markroom`, killed when dropped.
pub struct Served(pub std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub async fn ready(base: &str) {
    for _ in 0..600 {
        if let Ok(r) = reqwest::get(format!("{base}/readyz")).await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the served demo never became ready");
}

/// `markroom` against this test's database and data directory, with none of the environment's
/// own settings or the tests' knobs (every `MARKROOM_*` variable is read as a setting).
pub fn markroom(app: &crate::helpers::TestApp) -> std::process::Command {
    let mut cmd = markroom_in(&app.settings.data_dir);
    app.database_env(&mut cmd);
    cmd
}

/// `markroom` on the SQLite file of the data directory `dir`, with none of the tests' knobs.
pub fn markroom_in(dir: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_markroom"));
    cmd.env("MARKROOM_DATA_DIR", dir)
        .env_remove("DATABASE_URL")
        .env_remove("MARKROOM_CONFIG")
        .env_remove("MARKROOM_CRASH_KILLS")
        .env_remove("MARKROOM_LOAD_MARKERS")
        .env_remove("MARKROOM_BLESS_AUTHORIZATION")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

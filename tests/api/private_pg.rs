//! A PostgreSQL cluster of the test's own (initdb in a temporary directory, on a free port),
//! for the tests that stop and start the database under a running service: stopping the shared
//! server would break every other test running beside them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::served::free_port;

pub struct PrivateCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

/// The newest installed PostgreSQL's programs (Debian keeps them outside PATH).
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn output(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn am_root() -> bool {
    output(Command::new("id").arg("-u")) == "0"
}

impl PrivateCluster {
    /// A new cluster, started; trust authentication for the user `postgres`.
    pub fn start() -> PrivateCluster {
        let bin = bin_dir().expect("PostgreSQL's programs under /usr/lib/postgresql (apt: postgresql)");
        let dir = tempfile::tempdir().expect("temp dir");
        // PostgreSQL will not run as root: the cluster belongs to the `postgres` user then.
        if am_root() {
            let uid: u32 = output(Command::new("id").args(["-u", "postgres"])).parse().unwrap();
            let gid: u32 = output(Command::new("id").args(["-g", "postgres"])).parse().unwrap();
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let cluster = PrivateCluster {
            dir,
            bin,
            port: free_port(),
        };
        let data = cluster.data();
        cluster.run("initdb", &["-D", &data, "-U", "postgres", "--auth=trust", "--no-sync"]);
        cluster.start_again();
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// One of PostgreSQL's programs, run as the cluster's owner.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut cmd = if am_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        cmd.current_dir(Path::new("/"));
        cmd
    }

    fn run(&self, program: &str, args: &[&str]) -> String {
        output(self.command(program).args(args))
    }

    /// Starts the stopped cluster and waits until it takes connections.
    pub fn start_again(&self) {
        let (data, sockets) = (self.data(), self.dir.path().display().to_string());
        let log = self.dir.path().join("log").display().to_string();
        let options = format!("-p {} -k {sockets} -c listen_addresses=127.0.0.1", self.port);
        self.run("pg_ctl", &["-D", &data, "-l", &log, "-o", &options, "-w", "start"]);
    }

    /// Stops the cluster as a crash would: every backend killed, no checkpoint, recovery at
    /// the next start.
    pub fn crash(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
    }

    /// A new database in the cluster; its URL.
    pub fn database(&self, name: &str) -> String {
        let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        let mut conn = <diesel::pg::PgConnection as diesel::Connection>::establish(&admin).unwrap();
        diesel::RunQueryDsl::execute(diesel::sql_query(format!("CREATE DATABASE {name}")), &mut conn).unwrap();
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
    }
}

//! A private PostgreSQL primary with a real streaming replica, each its own
//! postmaster on a free port (initdb, then pg_basebackup), started by the test
//! and stopped when dropped. The system server's own `pg_hba.conf` allows no
//! replication connections, and a test must not change it; a cluster of its
//! own may. Run as the `postgres` user when the tests run as root.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Replicated {
    dir: PathBuf,
    pub primary_port: u16,
    pub replica_port: u16,
}

fn bindir() -> PathBuf {
    let out = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .expect("pg_config");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Runs a server program, as `postgres` when we are root (initdb refuses root).
fn run(program: &str, args: &[&str]) {
    let path = bindir().join(program);
    let root = is_root();
    let mut command = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&path);
        c
    } else {
        Command::new(&path)
    };
    let out = command.args(args).output().expect(program);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn append(file: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(file).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

impl Replicated {
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("sm_replica_{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let (primary, replica) = (dir.join("primary"), dir.join("replica"));
        let (primary_port, replica_port) = (free_port(), free_port());
        let p = |path: &Path| path.to_str().unwrap().to_owned();
        run(
            "initdb",
            &[
                "-D",
                &p(&primary),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
            ],
        );
        let socket = p(&dir);
        append(
            &primary.join("postgresql.conf"),
            &format!(
                "\nport = {primary_port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{socket}'\n\
                 wal_level = replica\nmax_wal_senders = 4\nfsync = off\nwal_receiver_status_interval = 1\n"
            ),
        );
        append(
            &primary.join("pg_hba.conf"),
            "\nhost replication all 127.0.0.1/32 trust\n",
        );
        let log = p(&dir.join("primary.log"));
        run("pg_ctl", &["-D", &p(&primary), "-l", &log, "-w", "start"]);
        let port = primary_port.to_string();
        run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                &p(&replica),
                "-R",
                "-X",
                "stream",
            ],
        );
        append(
            &replica.join("postgresql.conf"),
            &format!("\nport = {replica_port}\nhot_standby = on\n"),
        );
        let log = p(&dir.join("replica.log"));
        run("pg_ctl", &["-D", &p(&replica), "-l", &log, "-w", "start"]);
        Self {
            dir,
            primary_port,
            replica_port,
        }
    }

    pub fn url(&self, port: u16) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable")
    }

    /// Waits until the primary sees its replica streaming.
    pub async fn streaming(&self) -> sqlx::PgPool {
        let primary = sqlx::PgPool::connect(&self.url(self.primary_port))
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
            )
            .fetch_one(&primary)
            .await
            .unwrap();
            if n == 1 {
                return primary;
            }
            assert!(Instant::now() < deadline, "the replica never streamed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Replicated {
    fn drop(&mut self) {
        for node in ["replica", "primary"] {
            let data = self.dir.join(node);
            run(
                "pg_ctl",
                &["-D", data.to_str().unwrap(), "-m", "immediate", "stop"],
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

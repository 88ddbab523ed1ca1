//! A throwaway Postgres cluster for the test process, and one database
//! per test copied from a migrated template.
//!
//! The cluster lives under `target/tmp/`, is started from the machine's
//! PostgreSQL binaries (as the `postgres` user when the tests run as root,
//! since `initdb` refuses root), and dies with the test process: a small
//! shell watchdog holds a pipe from us and stops the server at EOF.

use std::{
    io::Write,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex, OnceLock,
    },
    time::{Duration, Instant},
};

use swf_alarms::config::Config;

const TEMPLATE: &str = "swf_template";

struct Cluster {
    port: u16,
    bindir: PathBuf,
    // Held only so that the watchdog's stdin stays open until we exit.
    _watchdog: Mutex<Child>,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

fn bindir() -> PathBuf {
    if let Ok(dir) = std::env::var("SWF_PG_BINDIR") {
        return PathBuf::from(dir);
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    candidates.retain(|p| p.join("initdb").exists());
    candidates.sort();
    candidates.pop().unwrap_or_else(|| {
        panic!(
            "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin; \
             install them (apt-get install -y postgresql) or set SWF_PG_BINDIR. \
             ./deploy/test.sh does this for you."
        )
    })
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Runs a cluster binary, as `postgres` when we are root.
fn pg_command(bindir: &Path, as_postgres: bool, program: &str) -> Command {
    let path = bindir.join(program);
    if as_postgres {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(path);
        cmd
    } else {
        Command::new(path)
    }
}

/// Creates and starts a cluster in `dir` on a port that was free a moment
/// ago; `None` when another process bound that port first. `prepare` gets
/// the data directory after initdb (certificates, pg_hba.conf); `extra`
/// is added to the server's arguments.
fn launch(
    bindir: &Path,
    as_postgres: bool,
    dir: &Path,
    extra: &str,
    prepare: &dyn Fn(&Path),
) -> Option<(std::process::Child, u16)> {
    // A failed attempt's log must not be read as this one's.
    let _ = std::fs::remove_file(dir.join("postgres.log"));
    let data = dir.join("data");
    let out = pg_command(bindir, as_postgres, "initdb")
        .args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "-D",
        ])
        .arg(&data)
        .output()
        .expect("run initdb");
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    prepare(&data);
    if as_postgres {
        let ok = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&data)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "chown of {} to postgres failed", data.display());
    }

    let port = free_port();
    let script = format!(
        "{postgres} -D {data} -p {port} -k '' -c listen_addresses=127.0.0.1 -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
         -c shared_preload_libraries=pg_stat_statements {extra} > {log} 2>&1 &\n\
         pid=$!\n\
         cat > /dev/null\n\
         kill -INT $pid\n\
         wait $pid\n\
         rm -rf {data}\n",
        postgres = bindir.join("postgres").display(),
        data = data.display(),
        log = dir.join("postgres.log").display(),
    );
    let mut watchdog = if as_postgres {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--", "sh", "-c", &script]);
        cmd
    } else {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &script]);
        cmd
    };
    // Waited for on failure below; on success the Cluster owns it.
    #[allow(clippy::zombie_processes)]
    let mut child = watchdog
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start postgres");

    let log = dir.join("postgres.log");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = Command::new(bindir.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ready {
            return Some((child, port));
        }
        // Another process took the port between our probe and the
        // postmaster's bind: give up this attempt (closing stdin stops
        // the watchdog, which removes the data directory).
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let taken =
            text.contains("could not bind") || text.contains("could not create any TCP/IP sockets");
        if taken || Instant::now() >= deadline {
            drop(child.stdin.take());
            let _ = child.wait();
            assert!(taken, "postgres did not start; see {}", log.display());
            return None;
        }
        // Poll for readiness, the only signal pg_ctl-less start gives.
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_cluster() -> Cluster {
    let bindir = bindir();
    let as_postgres = running_as_root();
    let base = cluster_base(as_postgres);
    remove_stale_clusters(&base);
    let dir = base.join(format!("pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the cluster directory");
    if as_postgres {
        let ok = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "chown of {} to postgres failed", dir.display());
    }
    let (child, port) = (0..5)
        .find_map(|_| launch(&bindir, as_postgres, &dir, "", &|_| {}))
        .expect("postgres found no free port in five attempts");
    let cluster = Cluster {
        port,
        bindir,
        _watchdog: Mutex::new(child),
    };
    cluster.psql(
        "postgres",
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
    );
    cluster.psql("postgres", &format!("CREATE DATABASE {TEMPLATE}"));
    // Migrate the template with the real binary, as an operator would.
    let config = dir.join("template.toml");
    std::fs::write(&config, config_toml(port, TEMPLATE, "", "")).expect("write template config");
    let out = Command::new(env!("CARGO_BIN_EXE_swf-alarms"))
        .args(["migrate", "--config"])
        .arg(&config)
        .output()
        .expect("run swf-alarms migrate");
    assert!(
        out.status.success(),
        "migrating the template failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    cluster
}

/// Where clusters live: under `target/tmp/`, unless the tests run as root
/// in a checkout the `postgres` user cannot reach (a home directory with
/// mode 700, say) — then under the system's temporary directory.
fn cluster_base(as_postgres: bool) -> PathBuf {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let reachable = !as_postgres
        || Command::new("runuser")
            .args(["-u", "postgres", "--", "test", "-x"])
            .arg(&target)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    if reachable {
        target
    } else {
        let base = std::env::temp_dir().join("swf-alarms-test-pg");
        let _ = std::fs::create_dir_all(&base);
        base
    }
}

/// Removes clusters left by test processes that no longer exist.
fn remove_stale_clusters(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name
            .strip_prefix("pg-")
            .and_then(|rest| rest.split('-').next())
        {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

impl Cluster {
    fn psql(&self, db: &str, sql: &str) -> String {
        let out = pg_command(&self.bindir, false, "psql")
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
            ])
            .args(["-p", &self.port.to_string(), "-d", db, "-c", sql])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(start_cluster)
}

/// A TOML config for database `db` on the test cluster: `engine` goes
/// into `[engine]`, `email` is the whole `[email]` table (the log channel
/// when empty).
pub fn config_toml(port: u16, db: &str, engine: &str, email: &str) -> String {
    let email = if email.is_empty() {
        "[email]\nprovider = \"log\"\nfrom = \"alarms@test.example\"\n"
    } else {
        email
    };
    format!(
        "[engine]\n{engine}\n\
         [db]\nhost = \"127.0.0.1\"\nport = {port}\nname = \"{db}\"\nuser = \"postgres\"\n\
         {email}"
    )
}

/// Shows the engine's logs in test output when `TEST_LOG` is set.
fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("swf_alarms=debug,alarms=debug")
            .with_test_writer()
            .try_init();
    }
}

/// One test's database, dropped when the handle is.
pub struct TestDb {
    pub name: String,
    pub port: u16,
}

impl TestDb {
    /// A fresh copy of the migrated template.
    pub fn new() -> TestDb {
        init_logs();
        let cluster = cluster();
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::SeqCst)
        );
        cluster.psql(
            "postgres",
            &format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}"),
        );
        TestDb {
            name,
            port: cluster.port,
        }
    }

    /// An empty database: no tables, nothing migrated.
    pub fn empty() -> TestDb {
        let cluster = cluster();
        let name = format!(
            "e_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::SeqCst)
        );
        cluster.psql("postgres", &format!("CREATE DATABASE {name}"));
        TestDb {
            name,
            port: cluster.port,
        }
    }

    /// The config for this database with the log channel.
    pub fn config(&self) -> Config {
        self.config_with("")
    }

    /// The config with `engine` TOML in `[engine]`.
    pub fn config_with(&self, engine: &str) -> Config {
        self.config_mail(engine, "")
    }

    /// The config with `engine` TOML in `[engine]` and an `[email]` table.
    pub fn config_mail(&self, engine: &str, email: &str) -> Config {
        Config::from_toml(Path::new("test.toml"), &self.toml(engine, email), &|_| None)
            .expect("test config is valid")
    }

    /// The TOML text of [`TestDb::config_mail`].
    pub fn toml(&self, engine: &str, email: &str) -> String {
        config_toml(self.port, &self.name, engine, email)
    }

    /// Writes the config to a file for the binary; returns its path.
    pub fn config_file(&self, engine: &str) -> PathBuf {
        self.config_file_mail(engine, "")
    }

    /// Writes a config with an `[email]` table to a file; returns its path.
    pub fn config_file_mail(&self, engine: &str, email: &str) -> PathBuf {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.toml", self.name));
        let mut f = std::fs::File::create(&path).expect("create config file");
        f.write_all(self.toml(engine, email).as_bytes())
            .expect("write config file");
        path
    }

    /// A plain connection to this database.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .dbname(&self.name)
            .connect(tokio_postgres::NoTls)
            .await
            .expect("connect to the test database");
        tokio::spawn(conn);
        client
    }

    /// Runs SQL on the cluster's `postgres` database (for statistics).
    pub fn psql_admin(&self, sql: &str) -> String {
        cluster().psql("postgres", sql)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::env::var_os("SWF_KEEP_TEST_DB").is_none() {
            cluster().psql(
                "postgres",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            );
        }
    }
}

/// A server of its own that takes only TLS connections (`hostssl`,
/// trust) from 127.0.0.1, with the given certificate and key.
pub struct TlsServer {
    pub port: u16,
    bindir: PathBuf,
    // Dropping it closes the watchdog's stdin, which stops the server.
    _watchdog: Child,
}

impl TlsServer {
    pub fn start(cert: &Path, key: &Path) -> TlsServer {
        let bindir = bindir();
        let as_postgres = running_as_root();
        let base = cluster_base(as_postgres);
        let dir = base.join(format!("pg-{}-tls", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the cluster directory");
        if as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(ok, "chown of {} to postgres failed", dir.display());
        }
        let prepare = |data: &Path| {
            std::fs::copy(cert, data.join("server.crt")).expect("copy the certificate");
            std::fs::copy(key, data.join("server.key")).expect("copy the key");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                data.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .expect("chmod the key");
            std::fs::write(
                data.join("pg_hba.conf"),
                "hostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
            )
            .expect("write pg_hba.conf");
        };
        let extra = "-c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key";
        let (child, port) = (0..5)
            .find_map(|_| launch(&bindir, as_postgres, &dir, extra, &prepare))
            .expect("postgres found no free port in five attempts");
        TlsServer {
            port,
            bindir,
            _watchdog: child,
        }
    }

    /// Runs SQL through psql over TLS (libpq, not the engine); returns
    /// its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new(self.bindir.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .arg(format!(
                "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=require",
                self.port
            ))
            .args(["-c", sql])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

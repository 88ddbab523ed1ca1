//! Loopback mail servers for the channel tests: an SMTP sink (aiosmtpd),
//! a port that never answers, a port nobody listens on, and moto's SES
//! endpoint. Each Python fake exits when the test process does (it waits
//! for EOF on a pipe we hold).

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, OnceLock,
    },
    time::{Duration, Instant},
};

/// A program of the test fakes' virtual environment: `$SWF_TEST_VENV/bin`
/// (set by `deploy/test.sh`), else `target/test-venv/bin` when it exists
/// (a plain `cargo test` after one `deploy/test.sh`), else the `PATH`.
pub fn fake_program(name: &str) -> PathBuf {
    let venv = std::env::var_os("SWF_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../test-venv"));
    let program = venv.join("bin").join(name);
    if program.exists() {
        program
    } else {
        PathBuf::from(name)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Spawns a Python fake and waits for it to print `ready` (or, without a
/// ready line, for its port to accept connections).
fn spawn_fake(mut cmd: Command, port: u16, wait_for_line: bool) -> Child {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a Python fake (./deploy/test.sh installs them)");
    if wait_for_line {
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("fake's first line");
        assert_eq!(line.trim(), "ready", "fake did not start");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "fake on port {port} did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

/// aiosmtpd, storing what it receives.
pub struct SmtpSink {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let port = free_port();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("smtp-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut cmd = Command::new(fake_program("python3"));
        cmd.arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fakes/smtp_sink.py"
        ))
        .arg(port.to_string())
        .arg(&dir);
        let child = spawn_fake(cmd, port, true);
        SmtpSink { port, dir, child }
    }

    /// Every message received so far, raw, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        files.sort();
        files
            .iter()
            .map(|p| String::from_utf8_lossy(&std::fs::read(p).expect("read message")).into_owned())
            .collect()
    }

    /// `[email]` settings pointing at this sink.
    pub fn email_toml(&self) -> String {
        smtp_toml(self.port, 5)
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `[email]` for an SMTP relay on a loopback port.
pub fn smtp_toml(port: u16, timeout_secs: u32) -> String {
    format!(
        "[email]\nprovider = \"smtp\"\nfrom = \"swf-alarms@test.example\"\nsmtp_host = \"127.0.0.1\"\n\
         smtp_port = {port}\nsmtp_timeout = {timeout_secs}\n"
    )
}

/// A loopback port with nobody listening.
pub fn closed_port() -> u16 {
    free_port()
}

/// Accepts connections and never says a word; counts them.
pub struct SilentServer {
    pub port: u16,
    pub accepted: Arc<AtomicUsize>,
}

impl SilentServer {
    pub fn start() -> SilentServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        SilentServer { port, accepted }
    }
}

/// moto's server, one per test process.
pub struct Moto {
    pub port: u16,
    _child: Child,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

/// The process's moto server, started on first use.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(|| {
        let port = free_port();
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "\"$0\" -H 127.0.0.1 -p \"$1\" >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid",
        ])
        .arg(fake_program("moto_server"))
        .arg(port.to_string());
        let child = spawn_fake(cmd, port, false);
        Moto {
            port,
            _child: child,
        }
    })
}

impl Moto {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// moto's record of everything it holds, as JSON.
    pub fn data(&self) -> serde_json::Value {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        write!(
            stream,
            "GET /moto-api/data.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
        )
        .expect("request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response");
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or("");
        serde_json::from_str(body).expect("moto data is JSON")
    }
}

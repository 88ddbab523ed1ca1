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

/// Spawns a Python fake that listens on a port of the kernel's choosing
/// and announces it with a first line `ready PORT`; returns the child and
/// the port. No port is guessed, so no other process can take it first.
fn spawn_fake(mut cmd: Command) -> (Child, u16) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a Python fake (./deploy/test.sh installs them)");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("fake's first line");
    let port = line
        .trim()
        .strip_prefix("ready ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("fake did not start: {line:?}"));
    (child, port)
}

/// aiosmtpd, storing what it receives.
pub struct SmtpSink {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        SmtpSink::spawn(&[])
    }

    /// A sink that offers STARTTLS with this certificate and key, and
    /// takes no mail before it.
    pub fn start_tls(cert: &std::path::Path, key: &std::path::Path) -> SmtpSink {
        SmtpSink::spawn(&[cert, key])
    }

    fn spawn(tls: &[&std::path::Path]) -> SmtpSink {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "smtp-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        let mut cmd = Command::new(fake_program("python3"));
        cmd.arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fakes/smtp_sink.py"
        ))
        .arg(&dir)
        .args(tls);
        let (child, port) = spawn_fake(cmd);
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

/// A loopback port nobody listens on, reserved while this lives: the
/// socket is bound but never listens, so connections to it are refused
/// and no other process can take the port meanwhile.
pub struct ClosedPort {
    pub port: u16,
    _socket: tokio::net::TcpSocket,
}

/// See [`ClosedPort`]; keep it in a variable for as long as the port is used.
pub fn closed_port() -> ClosedPort {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind(([127, 0, 0, 1], 0).into())
        .expect("bind a loopback port");
    let port = socket.local_addr().expect("bound address").port();
    ClosedPort {
        port,
        _socket: socket,
    }
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
        let mut cmd = Command::new(fake_program("python3"));
        cmd.arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fakes/ses_server.py"
        ));
        let (child, port) = spawn_fake(cmd);
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

/// A quoted-printable body decoded (soft line breaks and `=XX` escapes).
pub fn quoted_printable(body: &str) -> String {
    let joined = body.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

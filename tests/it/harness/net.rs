//! Loopback network parts the tests control: a TCP proxy that can take a
//! server away mid-conversation, and a scripted SMTP relay that answers
//! each message with the reply the test chose and can run a hook before
//! answering (to stop the database in the middle of a send, say).

use std::{
    collections::VecDeque,
    io::{BufRead, BufReader, Write},
    net::{Shutdown, TcpListener, TcpStream},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
};

/// A TCP proxy to a loopback port. [`Proxy::cut`] drops every open
/// connection and refuses new ones, as a server that went away;
/// [`Proxy::restore`] lets connections through again.
pub struct Proxy {
    pub port: u16,
    state: Arc<ProxyState>,
}

struct ProxyState {
    down: AtomicBool,
    open: Mutex<Vec<TcpStream>>,
}

impl Proxy {
    pub fn start(target_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let state = Arc::new(ProxyState {
            down: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
        });
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if shared.down.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target_port)) else {
                    continue;
                };
                let mut open = shared.open.lock().expect("proxy lock");
                for stream in [&client, &server] {
                    if let Ok(clone) = stream.try_clone() {
                        open.push(clone);
                    }
                }
                drop(open);
                pipe(&client, &server);
                pipe(&server, &client);
            }
        });
        Proxy { port, state }
    }

    /// Closes every connection through the proxy and refuses new ones.
    pub fn cut(&self) {
        self.state.down.store(true, Ordering::SeqCst);
        for stream in self.state.open.lock().expect("proxy lock").drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Lets new connections through again.
    pub fn restore(&self) {
        self.state.down.store(false, Ordering::SeqCst);
    }
}

/// Copies `from` into `to` on a thread of its own until either side ends.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

type Hook = Box<dyn Fn() + Send + Sync>;

/// A minimal SMTP relay (no TLS): every message is answered, at the end
/// of its DATA, with the next scripted reply (`250 OK` once the script is
/// used up). Every message's data is kept, accepted or not.
pub struct Relay {
    pub port: u16,
    state: Arc<RelayState>,
}

struct RelayState {
    replies: Mutex<VecDeque<String>>,
    received: Mutex<Vec<(String, String)>>,
    before_reply: Mutex<Option<Hook>>,
}

impl Relay {
    /// A relay answering messages with `replies` in turn, e.g.
    /// `["451 4.3.0 try again", "250 OK"]`.
    pub fn start(replies: &[&str]) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        let port = listener.local_addr().expect("relay address").port();
        let state = Arc::new(RelayState {
            replies: Mutex::new(replies.iter().map(|r| (*r).to_owned()).collect()),
            received: Mutex::new(Vec::new()),
            before_reply: Mutex::new(None),
        });
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let _ = serve(stream, &state);
                });
            }
        });
        Relay { port, state }
    }

    /// Runs `hook` after a message's data arrived, before it is answered.
    pub fn before_reply(&self, hook: impl Fn() + Send + Sync + 'static) {
        *self.state.before_reply.lock().expect("relay lock") = Some(Box::new(hook));
    }

    /// Every message received so far: (the reply it got, its data).
    pub fn received(&self) -> Vec<(String, String)> {
        self.state.received.lock().expect("relay lock").clone()
    }

    /// The messages the relay accepted (answered with 250).
    pub fn accepted(&self) -> Vec<String> {
        self.received()
            .into_iter()
            .filter(|(reply, _)| reply.starts_with("250"))
            .map(|(_, data)| data)
            .collect()
    }
}

fn serve(stream: TcpStream, state: &RelayState) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    out.write_all(b"220 relay.test ESMTP\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let verb = line.trim_end().to_ascii_uppercase();
        if verb.starts_with("EHLO") {
            out.write_all(b"250-relay.test\r\n250 8BITMIME\r\n")?;
        } else if verb.starts_with("HELO") {
            out.write_all(b"250 relay.test\r\n")?;
        } else if verb.starts_with("DATA") {
            out.write_all(b"354 go ahead\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(&line);
            }
            if let Some(hook) = state.before_reply.lock().expect("relay lock").as_ref() {
                hook();
            }
            let reply = state
                .replies
                .lock()
                .expect("relay lock")
                .pop_front()
                .unwrap_or_else(|| "250 OK".to_owned());
            state
                .received
                .lock()
                .expect("relay lock")
                .push((reply.clone(), data));
            out.write_all(format!("{reply}\r\n").as_bytes())?;
        } else if verb.starts_with("QUIT") {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else if verb.starts_with("RSET") || verb.starts_with("NOOP") {
            out.write_all(b"250 OK\r\n")?;
        } else {
            // MAIL FROM, RCPT TO.
            out.write_all(b"250 OK\r\n")?;
        }
    }
}

//! The frame guard: accepts public connections for a bound socket and relays them to the
//! ZeroMQ socket's private endpoint, closing any peer whose frame headers break the limits.
//!
//! The `zeromq` crate reserves a frame's announced length before reading it, so one
//! forged header (`0x02` + a 1 TiB length) aborts the process. The guard parses only the
//! ZMTP framing (64-byte greeting, then `flags, length, body` frames) of the inbound
//! direction and never buffers a body, so its cost is one extra local hop.

use std::fmt;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Semaphore;

use super::endpoint::Addr;
use super::{
    AbortOnDrop, GlitterError, Result, MAX_CONNECTIONS, MAX_FRAMES_PER_MESSAGE, MAX_FRAME_BYTES,
};

/// ZMTP 3's greeting is a fixed 64 bytes (signature, version, mechanism, filler).
const GREETING_BYTES: usize = 64;
const FLAG_MORE: u8 = 0b001;
const FLAG_LONG: u8 = 0b010;
const FLAG_COMMAND: u8 = 0b100;

/// Why the guard closed a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Violation {
    /// A frame announced more than the limit.
    FrameTooLarge(u64),
    /// A message had more frames than the limit.
    TooManyFrames,
    /// Reserved flag bits were set: not ZMTP 3.
    BadFlags(u8),
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::FrameTooLarge(n) => {
                write!(
                    f,
                    "frame of {n} bytes exceeds the {MAX_FRAME_BYTES}-byte limit"
                )
            }
            Violation::TooManyFrames => {
                write!(f, "message has more than {MAX_FRAMES_PER_MESSAGE} frames")
            }
            Violation::BadFlags(b) => write!(f, "invalid frame flags {b:#04x}"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Scan {
    Greeting {
        remaining: usize,
    },
    Flags,
    Len {
        flags: u8,
        need: u8,
        got: u8,
        acc: u64,
    },
    Body {
        remaining: u64,
    },
}

/// Incremental checker of an inbound ZMTP 3 byte stream.
#[derive(Debug)]
pub(crate) struct FrameScanner {
    state: Scan,
    frames_in_message: usize,
}

impl FrameScanner {
    /// A scanner at the start of a connection.
    pub(crate) fn new() -> Self {
        FrameScanner {
            state: Scan::Greeting {
                remaining: GREETING_BYTES,
            },
            frames_in_message: 0,
        }
    }

    /// Checks the next bytes of the stream; after an error the connection must be closed.
    pub(crate) fn feed(&mut self, mut data: &[u8]) -> Result<(), Violation> {
        while let Some(&byte) = data.first() {
            match &mut self.state {
                Scan::Greeting { remaining } => {
                    let k = (*remaining).min(data.len());
                    *remaining -= k;
                    data = &data[k..];
                    if *remaining == 0 {
                        self.state = Scan::Flags;
                    }
                }
                Scan::Body { remaining } => {
                    let k = usize::try_from(*remaining)
                        .unwrap_or(usize::MAX)
                        .min(data.len());
                    *remaining -= k as u64;
                    data = &data[k..];
                    if *remaining == 0 {
                        self.state = Scan::Flags;
                    }
                }
                Scan::Flags => {
                    data = &data[1..];
                    if byte & !(FLAG_MORE | FLAG_LONG | FLAG_COMMAND) != 0 {
                        return Err(Violation::BadFlags(byte));
                    }
                    let need = if byte & FLAG_LONG != 0 { 8 } else { 1 };
                    self.state = Scan::Len {
                        flags: byte,
                        need,
                        got: 0,
                        acc: 0,
                    };
                }
                Scan::Len {
                    flags,
                    need,
                    got,
                    acc,
                } => {
                    data = &data[1..];
                    *acc = (*acc << 8) | u64::from(byte);
                    *got += 1;
                    if *got < *need {
                        continue;
                    }
                    let (flags, len) = (*flags, *acc);
                    if len > MAX_FRAME_BYTES as u64 {
                        return Err(Violation::FrameTooLarge(len));
                    }
                    if flags & FLAG_COMMAND == 0 {
                        self.frames_in_message += 1;
                        if self.frames_in_message > MAX_FRAMES_PER_MESSAGE {
                            return Err(Violation::TooManyFrames);
                        }
                        if flags & FLAG_MORE == 0 {
                            self.frames_in_message = 0;
                        }
                    }
                    self.state = if len == 0 {
                        Scan::Flags
                    } else {
                        Scan::Body { remaining: len }
                    };
                }
            }
        }
        Ok(())
    }
}

/// A byte stream the guard relays.
trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

/// Where the ZeroMQ socket really listens; only this process can reach it on Unix.
#[derive(Debug, Clone)]
enum Private {
    #[cfg(unix)]
    Unix(std::path::PathBuf),
    #[cfg_attr(unix, allow(dead_code))]
    Tcp(std::net::SocketAddr),
}

impl Private {
    async fn connect(&self) -> std::io::Result<Box<dyn Conn>> {
        match self {
            #[cfg(unix)]
            Private::Unix(path) => Ok(Box::new(tokio::net::UnixStream::connect(path).await?)),
            Private::Tcp(addr) => {
                let s = tokio::net::TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                Ok(Box::new(s))
            }
        }
    }
}

/// A directory only we can enter, holding the private socket; removed on drop.
#[derive(Debug)]
struct PrivateDir(Option<std::path::PathBuf>);

impl Drop for PrivateDir {
    fn drop(&mut self) {
        if let Some(dir) = &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[cfg(unix)]
fn private_dir() -> Result<(PrivateDir, String)> {
    use std::os::unix::fs::DirBuilderExt;
    let mut base = std::env::temp_dir();
    // A long $TMPDIR would overflow sockaddr_un's 108 bytes.
    if base.as_os_str().len() > 60 {
        base = std::path::PathBuf::from("/tmp");
    }
    let dir = base.join(format!(
        "gs-glitter-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|source| GlitterError::Io {
            context: format!("cannot create private directory {}", dir.display()),
            source,
        })?;
    let addr = format!("ipc://{}", dir.join("z.sock").display());
    Ok((PrivateDir(Some(dir)), addr))
}

#[cfg(not(unix))]
fn private_dir() -> Result<(PrivateDir, String)> {
    Ok((PrivateDir(None), "tcp://127.0.0.1:0".to_owned()))
}

enum Public {
    Tcp(tokio::net::TcpListener),
    #[cfg(unix)]
    Unix(tokio::net::UnixListener),
}

impl Public {
    async fn accept(&self) -> std::io::Result<(Box<dyn Conn>, String)> {
        match self {
            Public::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                // Requests are small and latency-bound; Nagle would add up to 40 ms.
                s.set_nodelay(true)?;
                Ok((Box::new(s), peer.to_string()))
            }
            #[cfg(unix)]
            Public::Unix(l) => {
                let (s, _) = l.accept().await?;
                Ok((Box::new(s), "ipc peer".to_owned()))
            }
        }
    }
}

/// A running guard: the public listener and its relays. Dropping it stops accepting.
#[derive(Debug)]
pub(crate) struct Guard {
    /// The public endpoint as bound (port resolved), e.g. `tcp://127.0.0.1:40123`.
    pub(crate) endpoint: String,
    _accept: AbortOnDrop,
    _private: PrivateDir,
    #[cfg(unix)]
    public_path: Option<std::path::PathBuf>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(path) = &self.public_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Binds `socket` privately and `addr` publicly, relaying checked connections between them.
pub(crate) async fn bind_guarded<S: zeromq::Socket>(
    socket: &mut S,
    addr: &Addr,
    label: &'static str,
) -> Result<Guard> {
    let (private_dir, private_addr) = private_dir()?;
    let bound = socket.bind(&private_addr).await?;
    let private = match bound {
        #[cfg(unix)]
        zeromq::Endpoint::Ipc(Some(path)) => Private::Unix(path),
        zeromq::Endpoint::Tcp(_, port) => {
            Private::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        }
        other => {
            return Err(GlitterError::Transport(format!(
                "unexpected private endpoint {other}"
            )))
        }
    };

    let io = |context: String| move |source| GlitterError::Io { context, source };
    #[cfg(unix)]
    let mut public_path = None;
    let (public, endpoint) = match addr {
        Addr::Tcp { host, port } => {
            let l = tokio::net::TcpListener::bind((host.as_str(), *port))
                .await
                .map_err(io(format!(
                    "cannot listen on tcp://{host}:{port} for {label}"
                )))?;
            let local = l.local_addr().map_err(io("local address".to_owned()))?;
            (Public::Tcp(l), format!("tcp://{local}"))
        }
        #[cfg(unix)]
        Addr::Ipc(path) => {
            super::endpoint::prepare_ipc_bind(path)?;
            let l = tokio::net::UnixListener::bind(path).map_err(io(format!(
                "cannot listen on ipc://{} for {label}",
                path.display()
            )))?;
            public_path = Some(path.clone());
            (Public::Unix(l), format!("ipc://{}", path.display()))
        }
    };

    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let accept = tokio::spawn(accept_loop(public, private, slots, label));
    Ok(Guard {
        endpoint,
        _accept: AbortOnDrop(accept),
        _private: private_dir,
        #[cfg(unix)]
        public_path,
    })
}

async fn accept_loop(public: Public, private: Private, slots: Arc<Semaphore>, label: &'static str) {
    loop {
        let (peer, desc) = match public.accept().await {
            Ok(x) => x,
            Err(e) => {
                // E.g. out of file descriptors: back off instead of spinning.
                tracing::warn!(socket = label, error = %e, "glitter: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(socket = label, peer = %desc, "glitter: too many connections, closing");
            continue;
        };
        let private = private.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match private.connect().await {
                Ok(inner) => relay(peer, inner, &desc, label).await,
                Err(e) => tracing::warn!(socket = label, error = %e, "glitter: private endpoint"),
            }
        });
    }
}

/// Copies bytes both ways until either side closes or the peer breaks a limit.
async fn relay(peer: Box<dyn Conn>, inner: Box<dyn Conn>, desc: &str, label: &'static str) {
    let (mut peer_r, mut peer_w) = tokio::io::split(peer);
    let (mut inner_r, mut inner_w) = tokio::io::split(inner);
    let inbound = async {
        let mut scanner = FrameScanner::new();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = peer_r.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(None);
            }
            // Check before forwarding: the offending header never reaches zeromq.
            if let Err(v) = scanner.feed(&buf[..n]) {
                return Ok(Some(v));
            }
            inner_w.write_all(&buf[..n]).await?;
        }
    };
    let outbound = tokio::io::copy(&mut inner_r, &mut peer_w);
    tokio::select! {
        r = inbound => {
            if let Ok(Some(v)) = r {
                tracing::warn!(socket = label, peer = %desc, "glitter: closing connection: {v}");
            }
        }
        _ = outbound => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn greeting() -> Vec<u8> {
        let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 0];
        g.resize(GREETING_BYTES, 0);
        g
    }

    #[test]
    fn glitter_scanner_accepts_normal_traffic_in_any_split() {
        let mut stream = greeting();
        stream.extend_from_slice(&[FLAG_COMMAND, 3, b'a', b'b', b'c']);
        stream.extend_from_slice(&[FLAG_MORE, 0]);
        stream.push(FLAG_LONG);
        stream.extend_from_slice(&300u64.to_be_bytes());
        stream.extend(std::iter::repeat_n(7u8, 300));
        for chunk in [1, 2, 7, 64, 1000] {
            let mut s = FrameScanner::new();
            for part in stream.chunks(chunk) {
                s.feed(part).unwrap();
            }
            assert!(matches!(s.state, Scan::Flags));
        }
    }

    #[test]
    fn glitter_scanner_refuses_oversized_and_odd_frames() {
        let mut huge = greeting();
        huge.push(FLAG_LONG);
        huge.extend_from_slice(&(1u64 << 40).to_be_bytes());
        assert_eq!(
            FrameScanner::new().feed(&huge),
            Err(Violation::FrameTooLarge(1 << 40))
        );

        let mut just_over = greeting();
        just_over.push(FLAG_LONG | FLAG_COMMAND);
        just_over.extend_from_slice(&(MAX_FRAME_BYTES as u64 + 1).to_be_bytes());
        assert!(matches!(
            FrameScanner::new().feed(&just_over),
            Err(Violation::FrameTooLarge(_))
        ));

        let mut many = greeting();
        for _ in 0..=MAX_FRAMES_PER_MESSAGE {
            many.extend_from_slice(&[FLAG_MORE, 0]);
        }
        assert_eq!(
            FrameScanner::new().feed(&many),
            Err(Violation::TooManyFrames)
        );

        let mut flags = greeting();
        flags.push(0x80);
        assert_eq!(
            FrameScanner::new().feed(&flags),
            Err(Violation::BadFlags(0x80))
        );
    }
}

//! Real peers: the Python SDK fixture server, server-everything, Node and Python
//! interpreters from the test-peer folder. A missing peer is a failure that says
//! how to install it, never a silent skip.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where `scripts/install-peers` put the peers.
pub fn peers_dir() -> PathBuf {
    std::env::var_os("PORTCULLIS_PEERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".peers"))
}

fn require(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "test peer {} is missing: run scripts/install-peers (scripts/test does it)",
        path.display()
    );
    path
}

/// The virtualenv's Python.
pub fn python() -> PathBuf {
    require(peers_dir().join("venv/bin/python"))
}

/// Node 22 from the peer folder.
pub fn node() -> PathBuf {
    require(peers_dir().join("node/node_modules/.bin/node"))
}

/// A file inside the peer folder's node_modules.
pub fn node_module(rel: &str) -> PathBuf {
    require(peers_dir().join("node/node_modules").join(rel))
}

/// A script in tests/peers.
pub fn script(name: &str) -> PathBuf {
    require(repo().join("tests/peers").join(name))
}

/// A free loopback port for a peer that must be told its number.
///
/// A port the kernel hands out for `:0` lies in the ephemeral range, where an
/// outgoing connection of any test may take it between this check and the
/// peer's bind. So the port comes from below that range (20000-32000, where
/// the kernel never picks on its own), starts at an offset of this process's
/// id so that test binaries running at once do not walk the same sequence, and
/// is never handed out twice by one process. Falls back to a kernel pick only
/// when the whole band is taken.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        (u64::from(std::process::id()) * 7919 % u64::from(SPAN)) as u32,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..SPAN {
        let port = (LOW + NEXT.fetch_add(1, Ordering::SeqCst) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A peer process, killed on drop.
pub struct Peer {
    _child: Child,
    pub url: String,
}

impl Peer {
    /// The conformance fixture (Python SDK 2.x, dual-era), on a port of its choosing.
    pub async fn python_fixture() -> Peer {
        Peer::python_fixture_on(0).await
    }

    /// The conformance fixture on `port` (0: one of its choosing).
    pub async fn python_fixture_on(port: u16) -> Peer {
        let mut child = Command::new(python())
            .arg(script("conformance_fixture.py"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("fixture did not start within 60s")
            .unwrap()
            .expect("fixture exited before listening");
        let url = line
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("unexpected fixture output: {line}"))
            .to_owned();
        Peer { _child: child, url }
    }

    /// `@modelcontextprotocol/server-everything` over Streamable HTTP, forced onto loopback.
    pub async fn everything() -> Peer {
        let port = free_port();
        let child = everything_on(port, "streamableHttp").await;
        Peer {
            _child: child,
            url: format!("http://127.0.0.1:{port}/mcp"),
        }
    }
}

/// `@modelcontextprotocol/server-everything` in `mode` (`streamableHttp`,
/// `sse`) on loopback `port`, killed when dropped; returns once it listens.
pub async fn everything_on(port: u16, mode: &str) -> Child {
    spawn_listening(
        Command::new(node())
            .arg("--require")
            .arg(script("loopback.cjs"))
            .arg(node_module(
                "@modelcontextprotocol/server-everything/dist/index.js",
            ))
            .arg(mode)
            .env("PORT", port.to_string()),
        port,
    )
    .await
}

/// Starts `command` with its output discarded, killed on drop, and waits
/// until it accepts connections on 127.0.0.1:`port`.
pub async fn spawn_listening(command: &mut Command, port: u16) -> Child {
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_for_port(port).await;
    child
}

/// The Python SDK server `name` (a script in `tests/peers/`) on a free port,
/// with `args` after the port, once it listens; its Streamable HTTP URL.
pub async fn python_server(name: &str, args: &[&str]) -> (Child, String) {
    let port = free_port();
    let child = spawn_listening(
        Command::new(python())
            .arg(script(name))
            .arg(port.to_string())
            .args(args),
        port,
    )
    .await;
    (child, format!("http://127.0.0.1:{port}/mcp"))
}

/// The Python script `name` (in `tests/peers/`) run to completion with
/// `args`; what it prints, as JSON.
pub async fn python_json(name: &str, args: &[&str]) -> serde_json::Value {
    let path = script(name);
    let mut argv = vec![path.to_str().unwrap_or_default()];
    argv.extend_from_slice(args);
    let out = run(&python(), &argv, None).await;
    serde_json::from_str(&out).unwrap()
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
pub async fn wait_for_port(port: u16) {
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing listens on 127.0.0.1:{port} after 30s");
}

/// The gateway binary serving `config`, output discarded, killed when
/// dropped; returns once it accepts connections on every one of `ports`
/// (127.0.0.1), with the ports it got. The ports come from [`free_port`], so
/// another test may bind one between picking and the gateway binding it: if
/// the binary exits before listening, every `127.0.0.1:<port>` of the config
/// file gets a fresh port and the binary starts again (three tries).
pub async fn serve_binary(
    config: &std::path::Path,
    ports: &[u16],
) -> (tokio::process::Child, Vec<u16>) {
    let mut ports = ports.to_vec();
    for _ in 0..3 {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["serve", "--config"])
            .arg(config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        if listening(&mut child, &ports).await {
            return (child, ports);
        }
        let fresh: Vec<u16> = ports.iter().map(|_| free_port()).collect();
        let mut text = std::fs::read_to_string(config).unwrap();
        for (old, new) in ports.iter().zip(&fresh) {
            text = text.replace(&format!("127.0.0.1:{old}"), &format!("127.0.0.1:{new}"));
        }
        std::fs::write(config, text).unwrap();
        ports = fresh;
    }
    panic!("the gateway binary exited before listening, three times");
}

/// Whether `child` listens on every port within 30 s; `false` if it exited
/// first.
async fn listening(child: &mut tokio::process::Child, ports: &[u16]) -> bool {
    for port in ports {
        let mut tries = 0;
        while tokio::net::TcpStream::connect(("127.0.0.1", *port))
            .await
            .is_err()
        {
            if child.try_wait().unwrap().is_some() {
                return false;
            }
            tries += 1;
            assert!(tries < 300, "nothing listens on 127.0.0.1:{port} after 30s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    true
}

/// Runs a peer command to completion and returns its stdout, failing with its
/// stderr if it fails.
pub async fn run(program: &Path, args: &[&str], cwd: Option<&Path>) -> String {
    let mut command = Command::new(program);
    command.args(args).kill_on_drop(true);
    if let Some(dir) = cwd {
        command.current_dir(dir);
    }
    let output = tokio::time::timeout(Duration::from_secs(300), command.output())
        .await
        .expect("peer command timed out")
        .unwrap();
    assert!(
        output.status.success(),
        "{} {:?} failed: {}\n{}",
        program.display(),
        args,
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A real OpenID provider (`oidc-provider`, tests/peers/oidc_provider.mjs) on
/// loopback, issuing JWT access tokens for `resources`, with key rotation.
pub struct OidcProvider {
    _child: Child,
    pub issuer: String,
}

impl OidcProvider {
    pub async fn start(resources: &[&str]) -> OidcProvider {
        let modules = peers_dir().join("node/node_modules");
        let mut child = Command::new(node())
            .arg(script("oidc_provider.mjs"))
            .args(resources)
            .env("PEERS_NODE_MODULES", modules)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("oidc-provider did not start within 60s")
            .unwrap()
            .expect("oidc-provider exited before listening");
        let issuer = line
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("unexpected oidc-provider output: {line}"))
            .to_owned();
        OidcProvider {
            _child: child,
            issuer,
        }
    }

    /// A client-credentials access token for `resource`.
    pub async fn token(&self, client: (&str, &str), resource: &str) -> String {
        let reply = super::http::Req::post(&format!("{}/token", self.issuer))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", &basic(client))
            .body(format!(
                "grant_type=client_credentials&scope=mcp%3Atools&resource={}",
                portcullis::authn::http::urlencode(resource)
            ))
            .send()
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        reply.json()["access_token"].as_str().unwrap().to_owned()
    }

    /// The next key signs; the previous one stays published.
    pub async fn rotate(&self) {
        let r = super::http::Req::post(&format!("{}/__rotate", self.issuer))
            .send()
            .await;
        assert_eq!(r.status, 200);
    }

    /// Only the current signing key stays published.
    pub async fn retire(&self) {
        let r = super::http::Req::post(&format!("{}/__retire", self.issuer))
            .send()
            .await;
        assert_eq!(r.status, 200);
    }
}

fn basic((id, secret): (&str, &str)) -> String {
    use base64::Engine;
    let pair = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    format!("Basic {pair}")
}

/// A real Redis server (Debian's `redis-server`) on a free loopback port,
/// without persistence; killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    pub url: String,
}

impl RedisServer {
    pub async fn start() -> RedisServer {
        let found = std::process::Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "redis-server is missing: run scripts/install-peers (it installs Debian's redis-server)"
        );
        let port = free_port();
        let child = spawn_listening(
            Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"]),
            port,
        )
        .await;
        RedisServer {
            child: Some(child),
            url: format!("redis://127.0.0.1:{port}/0"),
        }
    }

    /// Stops the server (and waits for it to exit).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

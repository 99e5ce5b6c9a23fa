//! One spawned server process: its pipes turned into a mux [`Link`] and logs, and
//! its termination.
//!
//! Invariants:
//! - No shell: the program is executed directly with its argv, an empty
//!   environment plus the configured variables, in its own process group (so a
//!   terminal's Ctrl-C does not reach it, and signals reach its own children).
//! - stdout carries only MCP: each line is parsed strictly; a line over the bound
//!   or not a JSON-RPC message is dropped and counted, never fatal.
//! - stderr is free-form: logged line by line with the upstream's name, each line
//!   bounded, at most [`STDERR_LINES_PER_SECOND`] lines a second.
//! - Nothing is left behind: [`Process::terminate`] closes stdin, then sends
//!   SIGTERM, then SIGKILL, and reaps; dropping a process that still runs kills
//!   its group and reaps it (bounded wait, then Tokio's orphan reaper).

use super::lines::LineReader;
use crate::config::stdio::StdioSettings;
use crate::protocol::ParseLimits;
use crate::protocol::jsonrpc::parse_message;
use crate::upstream::mux::{Frame, Link};
use bytes::Bytes;
use rustix::process::{Pid, Signal, kill_process_group};
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Most stderr lines logged per second; the rest are counted and summarised.
pub const STDERR_LINES_PER_SECOND: u32 = 100;
/// Garbage lines logged one by one before only summaries are.
const GARBAGE_LOGGED_EACH: u64 = 5;
/// After those, one summary every this many garbage lines.
const GARBAGE_SUMMARY_EVERY: u64 = 100;
/// How long to wait for a SIGKILLed process to be reaped before leaving it to
/// Tokio's orphan reaper.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// How long a process that closed its stdout gets to exit before it is
/// reported as "closed its stdout" (and terminated).
const EXIT_AFTER_EOF: Duration = Duration::from_millis(500);
/// Queued lines between the mux and the process, each way.
const PIPE_QUEUE: usize = 64;

/// Counters shared by every process of one upstream.
#[derive(Debug, Default)]
pub struct Counters {
    /// Processes spawned.
    pub starts: AtomicU64,
    /// stdout lines dropped (too long, or not a JSON-RPC message).
    pub garbage_lines: AtomicU64,
    /// stderr lines read.
    pub stderr_lines: AtomicU64,
}

/// How a process ended, for logs and the health reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// It exited after stdin was closed.
    Exited(String),
    /// It needed SIGTERM.
    Terminated(String),
    /// It needed SIGKILL.
    Killed(String),
}

/// A running server process.
#[derive(Debug)]
pub struct Process {
    child: Child,
    pid: u32,
    writer: JoinHandle<()>,
    stdout: JoinHandle<()>,
    stdout_open: bool,
    stderr: JoinHandle<()>,
    /// Keeps the mux's incoming side open after stdout ends, so that the mux
    /// learns why the connection ended from the supervisor (with the exit status),
    /// not a bare end of stream.
    _frames: mpsc::Sender<Frame>,
    reaped: bool,
}

/// Spawns the configured command and wires its pipes.
pub fn spawn(
    name: &Arc<str>,
    settings: &StdioSettings,
    parse: ParseLimits,
    counters: &Arc<Counters>,
) -> io::Result<(Process, Link)> {
    let mut command = Command::new(&settings.program);
    command
        .args(&settings.args)
        .env_clear()
        .envs(settings.env.iter().map(|(k, v)| (k, v.expose())))
        .current_dir(&settings.cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let mut child = command.spawn()?;
    let missing = || io::Error::other("a pipe of the child is missing");
    let pid = child
        .id()
        .ok_or_else(|| io::Error::other("the child exited at once"))?;
    let stdin = child.stdin.take().ok_or_else(missing)?;
    let stdout = child.stdout.take().ok_or_else(missing)?;
    let stderr = child.stderr.take().ok_or_else(missing)?;
    counters.starts.fetch_add(1, Ordering::Relaxed);
    let (outgoing, lines) = mpsc::channel(PIPE_QUEUE);
    let (frames, incoming) = mpsc::channel(PIPE_QUEUE);
    let writer = tokio::spawn(write_lines(stdin, lines));
    let stdout = tokio::spawn(read_messages(
        stdout,
        frames.clone(),
        Garbage::new(name.clone(), counters.clone()),
        settings.max_line,
        parse,
    ));
    let stderr = tokio::spawn(log_stderr(
        stderr,
        name.clone(),
        counters.clone(),
        settings.max_stderr_line,
    ));
    let process = Process {
        child,
        pid,
        writer,
        stdout,
        stdout_open: true,
        stderr,
        _frames: frames,
        reaped: false,
    };
    Ok((process, Link { outgoing, incoming }))
}

impl Process {
    /// The process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits until the process exits, or closes its stdout (it cannot serve
    /// without it), and describes which. Cancel-safe.
    pub async fn wait(&mut self) -> String {
        let status = tokio::select! {
            status = self.child.wait() => status,
            _ = &mut self.stdout, if self.stdout_open => {
                self.stdout_open = false;
                // Usually the process is exiting: let the reason name its status.
                match tokio::time::timeout(EXIT_AFTER_EOF, self.child.wait()).await {
                    Ok(status) => status,
                    Err(_) => return "closed its stdout".into(),
                }
            }
        };
        self.after_exit();
        describe(status)
    }

    /// Whether the process has exited and been reaped.
    pub fn reaped(&self) -> bool {
        self.reaped
    }

    /// After the process exited: lets its last stderr lines (often why it
    /// exited) be logged before what follows is, waiting at most `within`
    /// for the end of the pipe.
    pub async fn drain_stderr(&mut self, within: Duration) {
        let _ = tokio::time::timeout(within, &mut self.stderr).await;
    }

    /// Stops the process: closes stdin and waits `stdin_grace`; sends SIGTERM
    /// and waits `term_grace`; sends SIGKILL and reaps. `None` when it had
    /// already exited.
    pub async fn terminate(
        &mut self,
        stdin_grace: Duration,
        term_grace: Duration,
    ) -> Option<Ending> {
        if self.reaped {
            return None;
        }
        self.writer.abort();
        if let Ok(status) = tokio::time::timeout(stdin_grace, self.child.wait()).await {
            self.after_exit();
            return Some(Ending::Exited(describe(status)));
        }
        self.signal(Signal::TERM);
        if let Ok(status) = tokio::time::timeout(term_grace, self.child.wait()).await {
            self.after_exit();
            return Some(Ending::Terminated(describe(status)));
        }
        self.signal(Signal::KILL);
        Some(
            match tokio::time::timeout(KILL_WAIT, self.child.wait()).await {
                Ok(status) => {
                    self.after_exit();
                    Ending::Killed(describe(status))
                }
                Err(_) => Ending::Killed("did not die within 5s of SIGKILL".into()),
            },
        )
    }

    /// Signals the whole process group. Only while the leader is not reaped,
    /// so its pid (the group id) cannot have been reused.
    fn signal(&self, signal: Signal) {
        if let Some(pid) = i32::try_from(self.pid).ok().and_then(Pid::from_raw) {
            // ESRCH (already gone) is the only expected failure.
            let _ = kill_process_group(pid, signal);
        }
    }

    /// After the leader exited: stop the pipe tasks and kill what is left of its
    /// group (children it started). The group id cannot be reused while any member
    /// lives, and an empty group only answers ESRCH.
    fn after_exit(&mut self) {
        if !self.reaped {
            self.signal(Signal::KILL);
        }
        self.reaped = true;
        self.writer.abort();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.writer.abort();
        self.stdout.abort();
        self.stderr.abort();
        if self.reaped || !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        // Dropped while running (the gateway is going away without a shutdown):
        // kill the group now and reap within a short bound, so no zombie is left
        // even if the runtime stops right after; Tokio's orphan reaper covers the rest.
        self.signal(Signal::KILL);
        for _ in 0..100 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn describe(status: io::Result<ExitStatus>) -> String {
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(signal)) => format!("was killed by signal {signal}"),
            (None, None) => format!("ended ({s})"),
        },
        Err(e) => format!("could not be waited for: {e}"),
    }
}

/// Writes queued messages, one per line, flushing when the queue is empty.
async fn write_lines(stdin: impl AsyncWrite + Unpin, mut lines: mpsc::Receiver<Bytes>) {
    let mut out = BufWriter::new(stdin);
    while let Some(mut line) = lines.recv().await {
        loop {
            if out.write_all(&line).await.is_err() || out.write_all(b"\n").await.is_err() {
                return;
            }
            match lines.try_recv() {
                Ok(next) => line = next,
                Err(_) => break,
            }
        }
        if out.flush().await.is_err() {
            return;
        }
    }
}

/// Reads stdout: one JSON-RPC message per line, garbage dropped.
async fn read_messages(
    stdout: impl AsyncRead + Unpin,
    frames: mpsc::Sender<Frame>,
    mut garbage: Garbage,
    max_line: usize,
    parse: ParseLimits,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut lines = LineReader::new(max_line);
    loop {
        let line = match lines.next(&mut reader).await {
            Ok(Some(line)) => line,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(upstream = %garbage.name, error = %e, "reading the upstream's stdout failed");
                return;
            }
        };
        if line.truncated {
            garbage.report(
                &format!("a line of {} bytes exceeds max_line", line.len),
                line.bytes,
            );
            continue;
        }
        if line.bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_message(line.bytes, &parse) {
            Ok(message) => {
                let frame = Frame::new(Bytes::copy_from_slice(line.bytes), message);
                if frames.send(frame).await.is_err() {
                    return;
                }
            }
            Err(e) => garbage.report(&e.to_string(), line.bytes),
        }
    }
}

/// Reports stdout lines that are not MCP: the first few one by one, then summaries.
#[derive(Debug)]
struct Garbage {
    name: Arc<str>,
    counters: Arc<Counters>,
}

impl Garbage {
    fn new(name: Arc<str>, counters: Arc<Counters>) -> Garbage {
        Garbage { name, counters }
    }

    fn report(&mut self, why: &str, bytes: &[u8]) {
        let n = self.counters.garbage_lines.fetch_add(1, Ordering::Relaxed) + 1;
        if n <= GARBAGE_LOGGED_EACH {
            tracing::warn!(upstream = %self.name, why, line = %preview(bytes),
                "dropped a stdout line that is not a JSON-RPC message");
        } else if n.is_multiple_of(GARBAGE_SUMMARY_EVERY) {
            tracing::error!(upstream = %self.name, dropped = n,
                "the upstream keeps writing lines that are not JSON-RPC messages to stdout");
        }
    }
}

fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]);
    if bytes.len() > 120 {
        format!("{text}…")
    } else {
        text.into_owned()
    }
}

/// Logs stderr lines with the upstream's name, rate-limited.
async fn log_stderr(
    stderr: impl AsyncRead + Unpin,
    name: Arc<str>,
    counters: Arc<Counters>,
    max: usize,
) {
    let mut reader = BufReader::new(stderr);
    let mut lines = LineReader::new(max);
    let (mut window, mut logged, mut suppressed) = (Instant::now(), 0u32, 0u64);
    while let Ok(Some(line)) = lines.next(&mut reader).await {
        counters.stderr_lines.fetch_add(1, Ordering::Relaxed);
        if window.elapsed() >= Duration::from_secs(1) {
            if suppressed > 0 {
                tracing::warn!(upstream = %name, suppressed, "stderr lines not logged (rate limit)");
            }
            (window, logged, suppressed) = (Instant::now(), 0, 0);
        }
        if logged >= STDERR_LINES_PER_SECOND {
            suppressed += 1;
            continue;
        }
        logged += 1;
        let text = String::from_utf8_lossy(line.bytes);
        tracing::info!(target: "portcullis::upstream::stderr", upstream = %name,
            truncated = line.truncated, "{text}");
    }
}

//! A real rsyslogd, started on 127.0.0.1 by the test with its configuration and
//! work files in a temp folder, receives the events over TCP and over TLS with
//! octet-counting framing; what it writes out is compared with the segment file.

use super::support::*;
use portcullis::audit::Auditor;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// rsyslogd for one test; terminated (by its own pid) on drop.
struct Rsyslog {
    child: Child,
    out: PathBuf,
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_rsyslog(dir: &Path, port: u16, tls: Option<&Path>) -> Rsyslog {
    let work = dir.join("rsyslog");
    std::fs::create_dir_all(&work).unwrap();
    let out = work.join("received.log");
    let (global_tls, module_tls) = match tls {
        None => (String::new(), String::new()),
        Some(certs) => (
            format!(
                "global(DefaultNetstreamDriver=\"ossl\" DefaultNetstreamDriverCAFile=\"{0}/ca.pem\" DefaultNetstreamDriverCertFile=\"{0}/server.pem\" DefaultNetstreamDriverKeyFile=\"{0}/server.key\")\n",
                certs.display()
            ),
            " StreamDriver.Name=\"ossl\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\""
                .to_owned(),
        ),
    };
    let conf = format!(
        r#"global(workDirectory="{work}" maxMessageSize="64k")
{global_tls}module(load="imtcp"{module_tls})
template(name="audit" type="string" string="%app-name% %syslogfacility% %syslogseverity% %msgid% %msg%\n")
ruleset(name="audit") {{
  action(type="omfile" file="{out}" template="audit")
}}
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="audit")
"#,
        work = work.display(),
        out = out.display(),
    );
    let conf_path = work.join("rsyslog.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new("rsyslogd")
        .args(["-n", "-f"])
        .arg(&conf_path)
        .arg("-i")
        .arg(work.join("rsyslogd.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let r = Rsyslog { child, out };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "rsyslogd did not start listening"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    r
}

fn received(r: &Rsyslog, want: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = std::fs::read_to_string(&r.out).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if lines.len() >= want || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn send_and_compare(dir: &Path, syslog_yaml: &str, r: &Rsyslog) {
    let cfg = config(dir, &format!("fsync: none\n{syslog_yaml}"));
    let auditor = Auditor::start(cfg).unwrap();
    let n = every_kind().len();
    for rec in every_kind() {
        let _ = auditor.record(rec).unwrap();
    }
    auditor.shutdown_blocking();
    let stats = auditor.stats();
    let written: BTreeSet<String> = events(dir)
        .iter()
        .map(|e| e["attestation"]["uid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(written.len(), n);
    // Events plus the final checkpoint.
    let lines = received(r, n + 1);
    assert_eq!(stats.remote_sent, (n + 1) as u64, "{stats:?}");
    assert_eq!(stats.remote_dropped, 0);
    let mut got = BTreeSet::new();
    let mut severities = BTreeSet::new();
    for line in &lines {
        let mut parts = line.splitn(5, ' ');
        let (app, facility, severity, msgid, msg) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        assert_eq!(
            (app, facility, msgid),
            ("portcullis", "13", "audit"),
            "{line}"
        );
        let v: serde_json::Value =
            serde_json::from_str(msg.trim_start()).unwrap_or_else(|e| panic!("{e}: {line}"));
        if let Some(uid) = v["attestation"]["uid"].as_str() {
            got.insert(uid.to_owned());
            severities.insert(severity.to_owned());
        } else {
            assert!(v.get("portcullis_checkpoint").is_some(), "{line}");
        }
    }
    assert_eq!(got, written, "rsyslog received every event, whole");
    assert!(
        severities.contains("6") && severities.contains("3"),
        "{severities:?}"
    );
}

#[test]
fn rsyslog_receives_every_event_over_tcp_with_octet_counting() {
    if !require(has_command("rsyslogd"), "rsyslogd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let r = start_rsyslog(dir.path(), port, None);
    send_and_compare(
        dir.path(),
        &format!("syslog:\n  address: 127.0.0.1:{port}\n"),
        &r,
    );
}

fn make_certs(dir: &Path) -> PathBuf {
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::write(certs.join("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n").unwrap();
    let run = |args: &str| {
        let ok = Command::new("sh")
            .arg("-c")
            .arg(format!("openssl {args}"))
            .current_dir(&certs)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "openssl {args}");
    };
    run(
        "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=audit-test-ca",
    );
    run(
        "req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj /CN=localhost",
    );
    run(
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 -extfile ext.cnf",
    );
    certs
}

#[test]
fn rsyslog_receives_every_event_over_tls() {
    let driver = Path::new("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so").exists();
    if !require(
        has_command("rsyslogd") && has_command("openssl") && driver,
        "rsyslogd with rsyslog-openssl, and openssl",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let certs = make_certs(dir.path());
    let port = free_port();
    let r = start_rsyslog(dir.path(), port, Some(&certs));
    let yaml = format!(
        "syslog:\n  address: 127.0.0.1:{port}\n  tls:\n    ca: {}\n    server_name: localhost\n",
        certs.join("ca.pem").display()
    );
    send_and_compare(dir.path(), &yaml, &r);
}

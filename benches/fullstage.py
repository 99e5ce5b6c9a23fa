"""A gateway with every security stage on, for the load modes of benches/load.py.

Stages: JWT authentication (HS256 issuer from a secret file; a real signed
access token per run), Cedar authorization (policies written next to a copy of
the shipped schema, input validation against the listed schema), the injection
scan on arguments and results (built-in packs and model), the audit trail (file
sink, hash chain, group commit every 5 ms), rate limits (per principal and per
principal and tool, set far above any bench rate so they count but never
refuse), metrics on the admin listener, and JSON access records at `info`.
Everything here is the standard library: the token is signed with `hmac`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from loadkit import GATEWAY, ROOT, TEXT, call, free_port, wait_port

ISSUER = "https://bench-issuer.invalid"

FLOW_RULE = """
@id("bench-flow-rule")
forbid (principal, action == Mcp::Action::"tools/call", resource)
when { context.session_labels.contains("untrusted_content") && resource.labels.contains("exfiltration") };
"""

POLICY = """// Load runs: the bench client (role "bench") may connect, list, and call
// tools that declare themselves read-only.
@id("bench-connect-and-list")
permit (
  principal in Mcp::Role::"bench",
  action in [Mcp::Action::"connect", Mcp::Action::"tools/list"],
  resource
);

@id("bench-read-only-tools")
permit (principal in Mcp::Role::"bench", action == Mcp::Action::"tools/call", resource)
when { resource.read_only };
"""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(secret: bytes, audience: str, lifetime: int = 86_000) -> str:
    """An RFC 9068 access token (HS256) for the bench principal."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "at+jwt"}
    claims = {"iss": ISSUER, "sub": "load-bench", "aud": audience, "iat": now, "exp": now + lifetime,
              "jti": b64url(os.urandom(12)), "roles": ["bench"], "client_id": "load-bench"}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


@dataclass
class Gateway:
    proc: subprocess.Popen
    url: str
    admin: str
    token: str
    folder: Path

    @property
    def pid(self) -> int:
        return self.proc.pid


def start(folder: Path, upstream: str, audit: str | None = "5ms", limits: dict | None = None,
          scan: bool = True, flows: str | None = None) -> Gateway:
    """Writes the full-stage configuration into `folder` and starts the gateway;
    `audit` is the trail's `fsync` setting, `None` for no trail; `scan=False`
    turns the injection scan off (`scan: { disabled: true }`); `flows` labels
    the upstream's tools (so every call records a flow label): `"local"` keeps
    labels in the process, a `redis://` URL shares them through Redis."""
    folder.mkdir(parents=True, exist_ok=True)
    secret = os.urandom(48)
    (folder / "hmac.b64").write_text(base64.b64encode(secret).decode() + "\n")
    policies = folder / "policies"
    policies.mkdir(exist_ok=True)
    shutil.copy(ROOT / "policies" / "mcp.cedarschema", policies)
    # With flows, a flow rule that never fires, so that labels are read.
    (policies / "bench.cedar").write_text(POLICY + (FLOW_RULE if flows else ""))
    port, admin_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    audit_yaml = (f"audit:\n  fsync: {audit}\n  file:\n    directory: {folder / 'audit'}\n"
                  if audit else "audit:\n  disabled: true\n")
    limits_yaml = "".join(f"  {k}: {v}\n" for k, v in (limits or {}).items())
    flows_yaml = ""
    if flows:
        flows_yaml = "  upstreams:\n    default:\n      labels: [bench]\n"
        if flows != "local":
            flows_yaml += f"  flows:\n    redis:\n      url: {flows}\n"
    config = folder / "portcullis.yaml"
    config.write_text(
        f"listen:\n  address: 127.0.0.1:{port}\n  public_url: {url}\n"
        f"admin:\n  address: 127.0.0.1:{admin_port}\n"
        f"upstream:\n  url: {upstream}\n"
        f"authentication:\n  mode: jwt\n  resource: {url}\n  issuers:\n"
        f"    - issuer: {ISSUER}\n      algorithms: [HS256]\n      hmac_secret_file: hmac.b64\n"
        f"      max_lifetime: 24h\n      required_claims: [jti]\n"
        "authorization:\n  policies: policies/\n" + flows_yaml + ("scan: {}\n" if scan else "scan:\n  disabled: true\n")
        + audit_yaml +
        "rate_limits:\n  rules:\n"
        "    - name: per-principal\n      per: [principal]\n      rate: 1000000/s\n      burst: 100000\n"
        "    - name: per-principal-tool\n      per: [principal, tool]\n      rate: 1000000/s\n      burst: 100000\n"
        + (f"limits:\n{limits_yaml}" if limits_yaml else "") +
        "logging:\n  format: json\n  level: info\nreload:\n  poll_interval: 0s\n"
    )
    log = open(folder / "gateway.log", "w")
    proc = subprocess.Popen([str(GATEWAY), "serve", "--config", str(config)], stderr=log)
    wait_port(port)
    wait_port(admin_port)
    gw = Gateway(proc, url, f"http://127.0.0.1:{admin_port}", mint(secret, url), folder)
    prime(gw)
    return gw


def post(gw: Gateway, body: dict, method: str, name: str | None = None) -> dict:
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": method,
               "Authorization": f"Bearer {gw.token}"}
    if name:
        headers["Mcp-Name"] = name
    req = urllib.request.Request(gw.url, json.dumps(body).encode(), headers)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def prime(gw: Gateway) -> None:
    """Lists tools once: with authorization on, the gateway refuses calls to a
    tool it has never seen listed (and validates arguments against the listing)."""
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "load", "version": "1"}}
    listing = post(gw, {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}}, "tools/list")
    names = [t["name"] for t in listing.get("result", {}).get("tools", [])]
    if "echo" not in names:
        raise SystemExit(f"gateway did not list echo: {listing}")
    probe(gw)


def probe(gw: Gateway) -> None:
    """One call through every stage must come back as the echo, not a refusal."""
    body, _ = call()
    answer = post(gw, json.loads(body), "tools/call", "echo")
    text = answer.get("result", {}).get("content", [{}])[0].get("text")
    if text != TEXT:
        raise SystemExit(f"the gateway did not answer the call with its echo: {str(answer)[:300]}")


def counts(gw: Gateway) -> dict[str, int]:
    """`tools/call` requests the gateway counted, by `outcome/decision` (its /metrics)."""
    with urllib.request.urlopen(gw.admin + "/metrics", timeout=10) as r:
        text = r.read().decode()
    out: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("portcullis_requests_total{") and 'method="tools/call"' in line:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            key = f"{labels.get('outcome')}/{labels.get('decision')}"
            out[key] = out.get(key, 0) + int(float(line.rsplit(" ", 1)[1]))
    return out


def refused(before: dict[str, int], after: dict[str, int]) -> int:
    """Calls the gateway answered with anything but the upstream's result
    between two `counts` (a JSON-RPC refusal still travels as HTTP 200)."""
    return sum(after.get(k, 0) - before.get(k, 0) for k in after if k != "ok/allowed")

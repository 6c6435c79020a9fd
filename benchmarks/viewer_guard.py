"""Can another page on the user's machine read or edit what `salam view` serves? A real server, real sockets.

Run: python benchmarks/viewer_guard.py [--out benchmarks/results/viewer_guard.md]

Starts `salam view --memory DIR --port P` (a subprocess, 127.0.0.1) over a 20-record memory (hash
embedder), then sends what a hostile page could make a browser send: GETs and token-carrying POSTs
whose Host is another name that resolves to 127.0.0.1 (DNS rebinding), POSTs from another Origin
(a cross-site form), and checks every response's framing headers (clickjacking). The memory's
record count is read before and after.
"""

from __future__ import annotations

import argparse
import http.client
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(port: int, method: str, path: str, host: str, body: dict | None = None, origin: str | None = None) -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Host": f"{host}:{port}"}
    data = None
    if body is not None:
        data = urlencode(body)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if origin:
        headers["Origin"] = origin
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    text = response.read().decode("utf-8", "replace")
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, text


def _count(memory: Path) -> int:
    from salam.memory import MistakeMemory

    with MistakeMemory.open(memory, embedder="hash-bow-64") as mem:
        return mem.count()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/viewer_guard.md")
    args = parser.parse_args()
    from salam.memory import MistakeMemory
    from salam.types import MistakeRecord

    with tempfile.TemporaryDirectory() as tmp:
        memory = Path(tmp) / "memory"
        with MistakeMemory.open(memory, embedder="hash-bow-64") as mem:
            mem.add([MistakeRecord(question=f"question {i} about the market", wrong_answer="A", true_answer="B") for i in range(20)])
            ids = [r.id for r in mem.iter_records()]
        before = _count(memory)
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-m", "salam.cli.main", "view", "--memory", str(memory), "--port", str(port)],
                                  cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    if _request(port, "GET", "/runs", "127.0.0.1")[0] in (200, 302):
                        break
                except OSError:
                    time.sleep(0.2)
            status, _, page = _request(port, "GET", f"/memory/record/{ids[5]}", "127.0.0.1")  # a page that carries the token
            token = re.search(r'name="token" value="([^"]+)"', page)
            token = token.group(1) if token else ""
            assert status == 200 and token, "the record page carried no token"
            rows = []
            evil_hosts = ["attacker.example", "rebind.127.0.0.1.nip.io", "localhost.attacker.example", "0x7f000001"]
            record_page = f"/memory/record/{ids[5]}"
            refused = sum(_request(port, "GET", record_page, host)[0] == 403 for host in evil_hosts)
            leaked = sum(token in _request(port, "GET", record_page, host)[2] for host in evil_hosts)
            rows.append(("GET a record page (it carries the token) with a rebinding Host (4 names)",
                         f"{refused}/4 refused (403), token in {leaked} replies"))
            deletes = [(host, origin) for host in evil_hosts for origin in (None, f"http://{host}:{port}")]
            refused = sum(_request(port, "POST", f"/memory/record/{ids[0]}/delete", host, {"token": token, "confirm": "yes"},
                                   origin)[0] == 403 for host, origin in deletes)
            rows.append(("POST delete, token included, rebinding Host (8 requests)", f"{refused}/8 refused"))
            origins = ["http://attacker.example", "https://evil.test:443", "null", f"http://localhost.attacker.example:{port}"]
            refused = sum(_request(port, "POST", f"/memory/record/{ids[1]}/delete", "127.0.0.1", {"token": token, "confirm": "yes"},
                                   origin)[0] == 403 for origin in origins)
            rows.append(("POST delete, token included, Host 127.0.0.1, another Origin (4)", f"{refused}/4 refused"))
            paths = ["/runs", "/memory", "/memory/prune", f"/memory/record/{ids[2]}", "/training", "/nowhere"]
            framed = sum(h.get("x-frame-options") == "DENY" and "frame-ancestors 'none'" in h.get("content-security-policy", "")
                         for h in (_request(port, "GET", p, "127.0.0.1")[1] for p in paths))
            rows.append(("responses forbidding framing (X-Frame-Options DENY + CSP frame-ancestors 'none')", f"{framed}/{len(paths)}"))
            ok = _request(port, "POST", f"/memory/record/{ids[3]}/delete", "localhost", {"token": token, "confirm": "yes"},
                          f"http://localhost:{port}")[0]
            rows.append(("the viewer's own delete (Host localhost, its Origin, its token)", f"status {ok} (303 = done)"))
        finally:
            server.terminate()
            server.wait(10)
        after = _count(memory)
    lines = ["# `salam view` against other pages on the same machine", "",
             "Command: `python benchmarks/viewer_guard.py` (a real `salam view` subprocess on 127.0.0.1, requests over sockets)", "",
             "| what a hostile page sends | result |", "|---|---|", *[f"| {a} | {b} |" for a, b in rows], "",
             f"Records before {before}, after {after}: only the viewer's own delete removed one."]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

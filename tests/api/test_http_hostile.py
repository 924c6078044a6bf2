#!/usr/bin/env python3
"""
test_http_hostile.py - the HTTP server attacked from outside (issue 12 §4),
against the real `importq serve`, with raw bytes over sockets:

  - framing that two HTTP parsers could read differently (request
    smuggling): each case gets 400 problem+json and a closed connection,
    and the request pipelined behind it is not answered;
  - libmicrohttpd's own errors: 414/431 are ours (problem+json) up to far
    beyond our limits; what the library still answers itself is pinned
    here so that a library upgrade that changes it shows up;
  - a total deadline for headers and for the body, the per-address and
    the global connection limits;
  - slowloris: 1,100 connections from 127.0.0.2-5 each trickling header
    bytes; a normal request from 127.0.0.1 is answered within 1 s all along;
  - an upload onto a full disk (a 1 MiB tmpfs, only with --full-disk: the
    caller runs us in a private mount namespace, `unshare -m`, so the
    mount vanishes with us): 507 with a clear detail, nothing left behind.

Only 127.0.0.0/8 addresses are used; every wait is bounded.

Usage:
  test_http_hostile.py --bin build/importq --backend sqlite [--full-disk]
  test_http_hostile.py --bin build/importq --backend postgres --db URL [--full-disk]
  ... [-k SUBSTRING]

Last line: "hostile http tests: N on BACKEND, F failed"; exit 1 when F > 0.
Python 3 standard library only.
"""
import argparse
import json
import os
import re
import resource
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_api import (API, Q, Client, Server, TestFailure, check, expect_problem,  # noqa: E402
                      table_rows)

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
ATTACK_ADDRESSES = ["127.0.0.%d" % i for i in range(2, 6)]
ATTACK_CONNECTIONS = 1100
ATTACK_SECONDS = 25
ANSWER_WITHIN_S = 1.0


# ------------------------------------------------------------ raw HTTP ----

def read_until_close(sock, timeout):
    """Everything the server sends until it closes; closed is False when
    it was still open after timeout seconds."""
    sock.settimeout(0.2)
    out, end = b"", time.time() + timeout
    while time.time() < end:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return out, True  # reset: closed too
        if not chunk:
            return out, True
        out += chunk
    return out, False


def exchange(port, raw, timeout=5.0, source="127.0.0.1"):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    try:
        s.sendall(raw)
        return read_until_close(s, timeout)
    finally:
        s.close()


def responses(raw):
    """(status, headers dict lower-cased, body) of each response in raw."""
    found = []
    while raw:
        m = re.match(rb"HTTP/1\.[01] (\d{3}) [^\r\n]*\r\n", raw)
        if not m:
            break
        head, _, rest = raw.partition(b"\r\n\r\n")
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        found.append((int(m.group(1)), headers, rest[:length]))
        raw = rest[length:]
    return found


def expect_raw_problem(what, raw, closed, status):
    """raw is exactly one problem+json answer of status, then the close."""
    got = responses(raw)
    check(got, "%s: no answer (connection %s): %r" % (what, "closed" if closed else "still open", raw[:200]))
    code, headers, body = got[0]
    check(code == status, "%s: answered %d, expected %d: %r" % (what, code, status, raw[:300]))
    ctype = headers.get("content-type", "")
    check(ctype.startswith("application/problem+json"), "%s: Content-Type %r, not problem+json" % (what, ctype))
    doc = json.loads(body)
    check(doc.get("status") == status and doc.get("detail"), "%s: problem document %r" % (what, doc))
    check(len(got) == 1, "%s: %d answers: the request behind it was answered too: %r" % (what, len(got), raw[:600]))
    check(closed, "%s: the connection stayed open after the %d" % (what, status))
    return doc


# ---------------------------------------------------------------- state ----

class Ctx:
    def __init__(self, args, workdir):
        self.args, self.workdir = args, workdir
        self.db = args.db or "sqlite:" + os.path.join(workdir, "service.db")
        self.servers = []

    def server(self, label, *extra):
        s = Server(self.args.bin, self.db, self.workdir, label, list(extra))
        s.start()
        self.servers.append(s)
        return s

    def stop(self, server):
        server.stop()
        check(server.proc.returncode == 0, "%s server exited %d:\n%s" % (server.label, server.proc.returncode, server.log_tail()))
        log = open(server.log_path, errors="replace").read()
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:", "ThreadSanitizer"):
            check(marker not in log, "%s server log has a %s report:\n%s" % (server.label, marker, server.log_tail(60)))


TESTS = []


def test(name):
    def deco(fn):
        TESTS.append((name, fn))
        return fn
    return deco


# -------------------------------------------------------------- framing ----

def job_spec(name):
    return json.dumps({"name": name, "hold": True, "max_attempts": 1,
                       "source": {"format": "csv", "path": "teams.csv"},
                       "target": {"table": "hostile_" + uuid.uuid4().hex[:8], "mode": "insert", "create": True,
                                  "columns": [{"name": "team_id", "type": "integer"}]}}).encode()


def framing_cases(x):
    auth = b"Authorization: Bearer " + x.op.encode() + b"\r\n"
    post = b"POST " + Q.encode() + b" HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: application/json\r\n"
    names = {}

    def spec(case):
        names[case] = "hostile %s %s" % (case, uuid.uuid4().hex[:8])
        return job_spec(names[case])

    def chunk(body):
        return b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"

    body = spec("two CL")
    cases = {
        "two different Content-Length": post + b"Content-Length: %d\r\nContent-Length: 5\r\n\r\n" % len(body) + body,
        "Content-Length with Transfer-Encoding: chunked":
            post + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(spec("CL+TE")),
        "Transfer-Encoding: xchunked": post + b"Transfer-Encoding: xchunked\r\n\r\n" + chunk(spec("xchunked")),
        "Transfer-Encoding: identity, chunked":
            post + b"Transfer-Encoding: identity, chunked\r\n\r\n" + chunk(spec("identity")),
        "Transfer-Encoding: gzip": post + b"Transfer-Encoding: gzip\r\n\r\n" + chunk(spec("gzip")),
        "two Transfer-Encoding headers":
            post + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(spec("two TE")),
        "Transfer-Encoding in HTTP/1.0": post.replace(b"HTTP/1.1", b"HTTP/1.0") +
            b"Transfer-Encoding: chunked\r\n\r\n" + chunk(spec("TE 1.0")),
        "a space before the colon: Transfer-Encoding : chunked":
            post + b"Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n" + chunk(spec("TE space")),
        "HTTP/1.1 without Host": b"GET /healthz HTTP/1.1\r\n\r\n",
        "HTTP/1.1 with two Host headers": b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "%00 in the path": b"GET " + Q.encode() + b"%00/status HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n",
        "%00 in a query argument": b"GET " + Q.encode() + b"?q=%00 HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n",
        "a space in the target": b"GET /heal thz HTTP/1.1\r\nHost: x\r\n\r\n",
    }
    return cases, names


@test("framing: each ambiguous request gets 400 problem+json, the connection closes, nothing behind it is answered")
def t_framing(x):
    cases, names = framing_cases(x)
    failures = []
    for what, raw in cases.items():
        try:
            got, closed = exchange(x.main.port, raw + HEALTHZ)
            expect_raw_problem(what, got, closed, 400)
        except (TestFailure, ValueError) as e:
            failures.append(str(e))
    check(not failures, "%d of %d cases:\n  %s" % (len(failures), len(cases), "\n  ".join(failures)))
    client = Client(x.main.port)
    for case, name in names.items():
        r = client.get(Q + "?q=" + name.replace(" ", "%20"), x.op)
        check(r.status == 200 and r.json["items"] == [], "%s: a job was created: %s" % (case, r.describe()))


@test("framing: a well-formed pipelined pair is still answered twice on one connection")
def t_pipelined_ok(x):
    got, _ = exchange(x.main.port, HEALTHZ + HEALTHZ, timeout=1.5)
    codes = [c for c, _, _ in responses(got)]
    check(codes == [200, 200], "two pipelined GET /healthz: answers %r: %r" % (codes, got[:300]))
    body = job_spec("hostile chunked ok " + uuid.uuid4().hex[:8])
    raw = (b"POST " + Q.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + x.op.encode() +
           b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
           b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    got, _ = exchange(x.main.port, raw)
    codes = [c for c, _, _ in responses(got)]
    check(codes == [201], "a chunked POST: answers %r: %r" % (codes, got[:300]))


# ------------------------------------------------- libmicrohttpd's own ----

@test("414 and 431 are problem+json, from just over our limits to 64 KiB")
def t_sizes(x):
    for size in (8200, 65000):
        got, closed = exchange(x.main.port, b"GET /healthz?a=" + b"a" * size + b" HTTP/1.1\r\nHost: x\r\n\r\n" + HEALTHZ)
        expect_raw_problem("a %d-byte target" % size, got, closed, 414)
    for size in (17000, 65000):
        got, closed = exchange(x.main.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * size + b"\r\n\r\n" + HEALTHZ)
        expect_raw_problem("a %d-byte header" % size, got, closed, 431)
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"c" * 900) for i in range(40))
    got, closed = exchange(x.main.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n" + HEALTHZ)
    expect_raw_problem("40 headers of 900 bytes", got, closed, 431)


@test("what libmicrohttpd 0.9.75 still answers itself (documented in server.c): pinned")
def t_library_answers(x):
    cases = [
        ("HTTP/2.0 in the request line", b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("a header line without a colon", b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n", 400),
        ("a Content-Length that is not a number",
         b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello", 400),
        ("a target beyond the memory pool", b"GET /healthz?a=" + b"a" * 200000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ]
    for what, raw, status in cases:
        got, closed = exchange(x.main.port, raw + HEALTHZ)
        answers = responses(got)
        check(answers and answers[0][0] == status, "%s: expected libmicrohttpd's %d, got %r" % (what, status, got[:200]))
        check(len(answers) == 1 and closed, "%s: not closed after the %d" % (what, status))
        ctype = answers[0][1].get("content-type", "")
        if ctype.startswith("application/problem+json"):
            print("     note: %s is problem+json now: update server.c's list" % what)


# ------------------------------------------------------------ deadlines ----

def trickle(port, head, byte, every_s, limit_s, source="127.0.0.1"):
    """Send head, then byte every every_s; seconds until the server closed
    the connection, or None when it was still open after limit_s."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    start = time.time()
    try:
        s.sendall(head)
        while time.time() - start < limit_s:
            ready, _, _ = select.select([s], [], [], every_s)
            if ready:
                try:
                    data = s.recv(65536)
                except OSError:
                    return time.time() - start
                if not data:
                    return time.time() - start
                continue
            try:
                s.sendall(byte)
            except OSError:
                return time.time() - start
        return None
    finally:
        s.close()


@test("header deadline: headers trickled one byte every 0.3 s are cut off after header-timeout (2 s)")
def t_header_deadline(x):
    took = trickle(x.main.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", b"a", 0.3, 15)
    check(took is not None, "the connection was still open after 15 s")
    check(1.5 <= took <= 8, "closed after %.1f s, expected about 2 s" % took)


@test("body deadline: a body trickled one byte every 0.3 s is cut off after body-timeout (3 s), no spool file left")
def t_body_deadline(x):
    head = ("POST %s/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: text/csv\r\n"
            "Content-Length: 100000\r\n\r\n" % (API, x.op)).encode()
    took = trickle(x.main.port, head, b"a", 0.3, 20)
    check(took is not None, "the connection was still open after 20 s")
    check(2.5 <= took <= 10, "closed after %.1f s, expected about 3 s" % took)
    end = time.time() + 5
    while os.listdir(x.main.spool) and time.time() < end:
        time.sleep(0.1)
    check(os.listdir(x.main.spool) == [], "spool files left: %r" % os.listdir(x.main.spool))


@test("per-address limit: 30 connections from 127.0.0.3 with max-connections-per-ip 20 keep 20; 127.0.0.1 is served")
def t_per_ip(x):
    server = x.server("perip", "--max-connections-per-ip", "20", "--http-threads", "2")
    socks = []
    try:
        for _ in range(30):
            socks.append(socket.create_connection(("127.0.0.1", server.port), timeout=5,
                                                  source_address=("127.0.0.3", 0)))
        time.sleep(1.0)
        closed = 0
        for s in socks:
            ready, _, _ = select.select([s], [], [], 0)
            if ready:
                try:
                    closed += s.recv(1) == b""
                except OSError:
                    closed += 1
        check(closed == 10, "%d of 30 connections from one address were refused, expected 10" % closed)
        t0 = time.time()
        r = Client(server.port).get("/healthz", timeout=5)
        check(r.status == 200 and time.time() - t0 < ANSWER_WITHIN_S, "127.0.0.1: %d after %.2f s" % (r.status, time.time() - t0))
    finally:
        for s in socks:
            s.close()
        x.stop(server)


@test("global cap: with max-connections 40 taken, a 41st waits; one freed, it is served")
def t_global_cap(x):
    server = x.server("cap", "--max-connections", "40", "--max-connections-per-ip", "0", "--http-threads", "2",
                      "--header-timeout", "60s")
    socks = []
    try:
        for i in range(40):
            socks.append(socket.create_connection(("127.0.0.1", server.port), timeout=5,
                                                  source_address=("127.0.0.%d" % (10 + i % 5), 0)))
        time.sleep(0.5)
        waiting = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        waiting.sendall(HEALTHZ.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        ready, _, _ = select.select([waiting], [], [], 1.5)
        check(not ready, "a 41st connection was served although max-connections is 40")
        for s in socks[:5]:
            s.close()
        got, _ = read_until_close(waiting, 5)
        codes = [c for c, _, _ in responses(got)]
        check(codes[:1] == [200], "after freeing 5 connections the waiting request got %r" % got[:200])
        waiting.close()
    finally:
        for s in socks:
            s.close()
        x.stop(server)


# ------------------------------------------------------------ slowloris ----

class Slowloris:
    """ATTACK_CONNECTIONS connections spread over ATTACK_ADDRESSES, each
    sending a request line and then one header byte every 2 s; one the
    server closed is opened again at the next tick (bounded by the
    attack's duration)."""

    def __init__(self, port):
        self.port = port
        self.socks = {}  # fd -> (socket, source address)
        self.poll = select.poll()
        self.opened = self.reopened = 0
        self.stop = threading.Event()
        self.error = None

    def open_one(self, source):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((source, 0))
        try:
            s.connect(("127.0.0.1", self.port))
        except BlockingIOError:
            pass
        self.socks[s.fileno()] = (s, source)
        self.poll.register(s.fileno(), select.POLLIN | select.POLLOUT | select.POLLERR | select.POLLHUP)
        self.opened += 1

    def drop(self, fd):
        s, source = self.socks.pop(fd)
        self.poll.unregister(fd)
        s.close()
        return source

    def run(self, seconds):
        try:
            for i in range(ATTACK_CONNECTIONS):
                self.open_one(ATTACK_ADDRESSES[i % len(ATTACK_ADDRESSES)])
            started, again = {}, []
            end = time.time() + seconds
            next_tick = time.time()
            while not self.stop.is_set() and time.time() < end:
                for fd, events in self.poll.poll(200):
                    if fd not in self.socks:
                        continue
                    s, _ = self.socks[fd]
                    closed = bool(events & (select.POLLERR | select.POLLHUP))
                    if not closed and events & select.POLLIN:
                        try:
                            closed = s.recv(4096) == b""
                        except OSError:
                            closed = True
                    if not closed and events & select.POLLOUT and fd not in started:
                        try:
                            s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                            started[fd] = True
                            self.poll.modify(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
                        except OSError:
                            closed = True
                    if closed:
                        started.pop(fd, None)
                        again.append(self.drop(fd))
                if time.time() >= next_tick:
                    next_tick = time.time() + 2.0
                    for source in again:
                        self.open_one(source)
                    self.reopened += len(again)
                    again = []
                    for fd in list(started):
                        try:
                            self.socks[fd][0].send(b"a")
                        except (OSError, KeyError):
                            pass  # seen as closed by the next poll
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            for fd in list(self.socks):
                self.drop(fd)


def timed_healthz(port):
    """Seconds until GET /healthz from 127.0.0.1 was answered 200, or None."""
    t0 = time.time()
    try:
        got, _ = exchange(port, HEALTHZ.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"),
                          timeout=ANSWER_WITHIN_S)
    except OSError:
        return None
    took = time.time() - t0
    answers = responses(got)
    return took if answers and answers[0][0] == 200 and took <= ANSWER_WITHIN_S else None


@test("slowloris: 1,100 trickling connections from 127.0.0.2-5; /healthz from 127.0.0.1 answered within 1 s throughout")
def t_slowloris(x):
    server = x.server("slowloris")  # every connection setting at its default
    attack = Slowloris(server.port)
    attacker = threading.Thread(target=attack.run, args=(ATTACK_SECONDS,))
    attacker.start()
    probes, slow = [], []
    try:
        time.sleep(3)  # every attacking connection is open
        end = time.time() + ATTACK_SECONDS - 5
        while time.time() < end and attacker.is_alive():
            # A probe is a normal client: it may retry, but each attempt
            # must be answered within ANSWER_WITHIN_S.
            took = None
            for _ in range(3):
                took = timed_healthz(server.port)
                if took is not None:
                    break
            probes.append(took)
            if took is None:
                slow.append(time.time())
            time.sleep(0.5)
    finally:
        attack.stop.set()
        attacker.join(30)
    check(attack.error is None, "the attacker failed: %r" % attack.error)
    check(len(attack.socks) == 0 and attack.opened >= ATTACK_CONNECTIONS,
          "the attacker opened %d connections" % attack.opened)
    answered = [p for p in probes if p is not None]
    check(not slow, "%d of %d probes got no answer within %.0f s in 3 attempts (answered ones: worst %.2f s)" % (
        len(slow), len(probes), ANSWER_WITHIN_S, max(answered) if answered else 0))
    check(len(probes) >= 10, "only %d probes ran" % len(probes))
    print("     %d probes, worst %.3f s; attacker opened %d connections (%d re-opened after the server closed them)" % (
        len(probes), max(answered), attack.opened, attack.reopened))
    x.stop(server)


# ------------------------------------------------------------ full disk ----

@test("full disk: an upload onto a full spool gets 507 with a clear detail; no partial file, no upload row")
def t_full_disk(x):
    if not x.args.full_disk:
        print("     skip: needs --full-disk (root, run under unshare -m)")
        return
    server = Server(x.args.bin, x.db, x.workdir, "disk", ["--max-upload", "8MiB"])
    os.makedirs(server.spool, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", server.spool], capture_output=True, text=True)
    check(r.returncode == 0, "mount tmpfs: %s" % r.stderr)
    server.start()
    x.servers.append(server)
    try:
        rows_before = table_rows(x.db, "importq_uploads")
        client = Client(server.port)
        data = os.urandom(2 * 1024 * 1024)
        r = client.request("POST", API + "/uploads", data, token=x.op, content_type="text/csv")
        doc = expect_problem(r, 507)
        check("space" in doc["detail"] and "nothing was kept" in doc["detail"], "507 detail: %r" % doc["detail"])
        check(server.spool not in doc["detail"], "the detail names the spool path: %r" % doc["detail"])
        head = ("POST %s/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n"
                "Connection: close\r\n\r\n" % (API, x.op)).encode()
        body = b"".join(b"%x\r\n" % 65536 + data[i:i + 65536] + b"\r\n" for i in range(0, len(data), 65536)) + b"0\r\n\r\n"
        got, _ = exchange(server.port, head + body, timeout=15)
        answers = responses(got)
        check(answers and answers[0][0] == 507, "chunked upload onto a full disk: %r" % got[:300])
        check(os.listdir(server.spool) == [], "files left in the spool: %r" % os.listdir(server.spool))
        check(table_rows(x.db, "importq_uploads") == rows_before, "an upload row was recorded")
        small = b"team_id\n" + b"1\n" * 1000
        r = client.request("POST", API + "/uploads", small, token=x.op, content_type="text/csv")
        check(r.status == 201, "a small upload after the full-disk ones: %s" % r.describe())
        check(not client.server_errors[1:], "5xx other than the 507s: %r" % client.server_errors)
    finally:
        x.stop(server)
        subprocess.run(["umount", server.spool], capture_output=True)


# --------------------------------------------------------------- runner ----

def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return
    check(hard == resource.RLIM_INFINITY or hard >= need,
          "RLIMIT_NOFILE hard limit %d < %d: the slowloris test needs more sockets (ulimit -Hn)" % (hard, need))
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--backend", choices=("sqlite", "postgres"), required=True)
    ap.add_argument("--db", help="service database URL (default: a temp SQLite file)")
    ap.add_argument("--full-disk", action="store_true", help="mount a tmpfs for the full-disk test")
    ap.add_argument("-k", dest="only", help="run only tests whose name contains this")
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="importq-hostile.")
    x = Ctx(args, workdir)
    selected = [(n, f) for n, f in TESTS if not args.only or args.only in n]
    failed, started = [], time.time()
    try:
        # The server inherits the limit: 1,100 attacking sockets here, up
        # to max-connections (1000) there.
        raise_fd_limit(4096)
        probe = Server(args.bin, x.db, workdir, "setup")
        probe.migrate()
        x.op = probe.token("hostile-operator-" + uuid.uuid4().hex[:6], "operator")
        x.main = x.server("main", "--header-timeout", "2s", "--body-timeout", "3s", "--max-upload", "256KiB")
        for name, fn in selected:
            t0 = time.time()
            try:
                fn(x)
                print("ok   %-100s %5.2fs" % (name, time.time() - t0), flush=True)
            except Exception as e:
                detail = str(e) if isinstance(e, AssertionError) else traceback.format_exc(limit=4)
                failed.append(name)
                print("FAIL %s\n     %s" % (name, detail.replace("\n", "\n     ")), flush=True)
        check(x.main.alive(), "the main server exited:\n" + x.main.log_tail())
        x.stop(x.main)
    except Exception as e:
        failed.append("setup")
        print("FAIL setup: %s" % (e if isinstance(e, AssertionError) else traceback.format_exc()), flush=True)
    finally:
        for s in x.servers:
            s.stop()
        if failed:
            for s in x.servers:
                print("--- %s server log (tail) ---\n%s" % (s.label, s.log_tail()), flush=True)
        shutil.rmtree(workdir, ignore_errors=True)
    count = len(selected) + (1 if "setup" in failed else 0)
    print("hostile http tests: %d on %s, %d failed (%.0f s)" % (count, args.backend, len(failed), time.time() - started))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""
test_api.py - the black-box test suite of the HTTP API (CONTRACT §3).

It drives a real `importq serve` over HTTP and nothing else: tokens are
made with `importq token create`, the only direct database access is the
audit-tamper test (sqlite3 / psql). Every route of src/api/router.c gets a
happy path; every error of CONTRACT §3 gets its problem+json answer; a
short concurrency check submits 400 jobs from 8 threads. The whole run
must see no 5xx and leave the server alive.

Usage:
  test_api.py --bin build/importq --backend sqlite
  test_api.py --bin build/importq --backend postgres --db URL --aux-db URL2
  ... [-k SUBSTRING]   run only the tests whose name contains SUBSTRING
                       (tests that need earlier state make it themselves)

Last line: "api tests: N on BACKEND, F failed"; exit 1 when F > 0.
Python 3 standard library, and prometheus_client's parser for the /metrics
tests (Debian's python3-prometheus-client; they fail without it).
"""
import argparse
import base64
import csv
import gzip
import hashlib
import http.client
import io
import json
import os
import re
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

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
API = "/api/v2"
Q = API + "/import-queue"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
STATUSES = {"HELD", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"}
PHASES = {"queued", "locking", "read", "stage", "validate", "promote", "done"}
# The rows of a job's "phases" (stg_import_performance): the work phases and the waits.
TIMED_PHASES = {"read", "stage", "validate", "promote", "queued", "lock_wait", "dependency_wait"}
BOGUS_ID = "01900000-0000-7000-8000-0000000000ff"
DEADLINE_S = 30.0


class TestFailure(AssertionError):
    pass


def check(cond, message):
    if not cond:
        raise TestFailure(message)


# ---------------------------------------------------------------- HTTP ----

class Response:
    def __init__(self, method, path, status, headers, body):
        self.method, self.path, self.status = method, path, status
        self.headers, self.body = headers, body
        self._json = None

    def header(self, name):
        return self.headers.get(name)

    @property
    def json(self):
        if self._json is None:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                raise TestFailure("%s: body is not JSON (%s): %r" % (self.describe(), e, self.body[:300]))
        return self._json

    def describe(self):
        text = self.body[:400].decode("utf-8", "replace")
        return "%s %s -> %d %s" % (self.method, self.path, self.status, text)


class Client:
    """One new connection per request; records every 5xx it sees."""

    def __init__(self, port):
        self.port = port
        self.server_errors = []
        self.lock = threading.Lock()

    def request(self, method, path, body=None, token=None, headers=None, content_type=None,
                timeout=30):
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            if isinstance(body, (bytes, bytearray)):
                data = bytes(body)
            elif isinstance(body, str):
                data = body.encode("utf-8")
            else:
                data = json.dumps(body).encode("utf-8")
            hdrs.setdefault("Content-Type", content_type or "application/json")
        if token:
            hdrs["Authorization"] = "Bearer " + token
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            r = conn.getresponse()
            res = Response(method, path, r.status, r.headers, r.read())
        finally:
            conn.close()
        if res.status >= 500:
            with self.lock:
                self.server_errors.append(res.describe())
        return res

    def get(self, path, token=None, **kw):
        return self.request("GET", path, token=token, **kw)


def expect_status(res, *statuses):
    check(res.status in statuses, "expected %s, got %s" % ("/".join(map(str, statuses)), res.describe()))
    return res


def expect_problem(res, status, field=None):
    """res is an RFC 9457 problem of status; field (when given) is named in errors."""
    expect_status(res, status)
    ctype = res.header("Content-Type") or ""
    check(ctype.startswith("application/problem+json"),
          "Content-Type is %r, not application/problem+json: %s" % (ctype, res.describe()))
    doc = res.json
    check(isinstance(doc, dict), "problem is not an object: %s" % res.describe())
    for key, kind in (("type", str), ("title", str), ("status", int), ("detail", str), ("errors", list)):
        check(isinstance(doc.get(key), kind), "problem member %r missing or not %s: %s" % (key, kind.__name__, res.describe()))
    check(doc["status"] == status, "problem status %r != HTTP status %d" % (doc["status"], status))
    check(doc["title"] and doc["detail"], "problem title/detail empty: %s" % res.describe())
    for e in doc["errors"]:
        check(isinstance(e, dict) and isinstance(e.get("field"), str) and isinstance(e.get("message"), str),
              "errors[] item is not {field, message}: %r" % e)
    if field is not None:
        fields = [e["field"] for e in doc["errors"]]
        check(field in fields, "errors should name %r, got %r: %s" % (field, fields, res.describe()))
    return doc


def raw_exchange(port, head, body=b"", first_wait=1.5, timeout=15):
    """Send head (bytes), then body unless the server answers first.
    Returns (status or None when closed without an answer, raw bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = b""
    try:
        s.sendall(head)
        ready, _, _ = select.select([s], [], [], first_wait if body else 0)
        if body and not ready:
            try:
                for i in range(0, len(body), 65536):
                    s.sendall(body[i:i + 65536])
            except OSError:
                pass  # the server answered and closed while we were sending
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except OSError:
            pass
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", out)
    return (int(m.group(1)) if m else None), out


def raw_headers(raw):
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return head.split("\r\n")[1:]


def chunked(data, size=65536):
    out = []
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        out.append(b"%x\r\n" % len(piece) + piece + b"\r\n")
    out.append(b"0\r\n\r\n")
    return b"".join(out)


# -------------------------------------------------------------- server ----

class Server:
    def __init__(self, binary, db, workdir, label, extra=()):
        self.binary, self.db, self.label = binary, db, label
        self.import_root = os.path.join(workdir, "imports")
        self.spool = os.path.join(workdir, "spool-" + label)
        self.log_path = os.path.join(workdir, "serve-%s.log" % label)
        self.extra = list(extra)
        self.proc = None
        self.port = None

    def run_cli(self, *args):
        return subprocess.run([self.binary] + list(args) + ["--db", self.db], capture_output=True,
                              text=True, timeout=60)

    def migrate(self):
        r = self.run_cli("migrate")
        check(r.returncode == 0, "importq migrate failed: %s %s" % (r.stdout, r.stderr))

    def token(self, name, role):
        r = self.run_cli("token", "create", "--name", name, "--role", role, "--json")
        check(r.returncode == 0, "importq token create %s failed: %s%s" % (name, r.stdout, r.stderr))
        try:
            return json.loads(r.stdout)["token"]
        except (ValueError, KeyError):
            words = re.split(r"[\s:\"=]+", r.stdout)
            return max(words, key=len)

    def start(self):
        os.makedirs(self.spool, exist_ok=True)
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--db", self.db, "--listen", "127.0.0.1:0", "--import-root",
             self.import_root, "--spool-dir", self.spool, "--retry-base", "100ms",
             "--shutdown-grace", "1s"] + self.extra,
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.time() + DEADLINE_S
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure("importq serve (%s) exited with %d:\n%s" % (self.label, self.proc.returncode, self.log_tail()))
            m = re.search(r'msg="serving the API".* port=(\d+)', open(self.log_path).read())
            if m:
                self.port = int(m.group(1))
                try:
                    if Client(self.port).get("/healthz").status == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise TestFailure("importq serve (%s) did not answer /healthz:\n%s" % (self.label, self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, lines=30):
        try:
            return "".join(open(self.log_path).readlines()[-lines:])
        except OSError:
            return "(no log)"


def sql(db, statement):
    """Run one statement directly on the service database; returns stdout."""
    if db.startswith("sqlite:"):
        # waits for the server's writers (it samples health, evaluates alerts)
        cmd = ["sqlite3", "-batch", "-cmd", ".timeout 30000", db[len("sqlite:"):], statement]
    else:
        cmd = ["psql", "-XAtq", db, "-c", statement]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "%s failed: %s" % (" ".join(cmd[:2]), r.stderr))
    return r.stdout.strip()


def table_rows(db, table):
    """Rows in table of the service database; 0 when it does not exist."""
    if db.startswith("sqlite:"):
        exists = sql(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'" % table)
    else:
        exists = sql(db, "SELECT count(*) FROM pg_tables WHERE tablename = '%s'" % table)
    return int(sql(db, "SELECT count(*) FROM " + table)) if exists != "0" else 0


# ---------------------------------------------------------------- state ----

class Ctx:
    """What the tests share: the servers, clients, tokens and a few ids."""

    def __init__(self, args, workdir):
        self.args, self.workdir = args, workdir
        self.tag = uuid.uuid4().hex[:8]
        self.seq = 0

    def name(self, what):
        self.seq += 1
        return "%s %s #%d" % (what, self.tag, self.seq)

    def table(self, what):
        self.seq += 1
        return "%s_%s_%d" % (what, self.tag, self.seq)

    def spec(self, table=None, path="teams.csv", hold=False, **extra):
        spec = {
            "name": extra.pop("name", None) or self.name("job"),
            "max_attempts": 1,
            "source": {"format": "csv", "path": path},
            "target": {"table": table or self.table("teams"), "mode": "upsert", "key": ["team_id"],
                       "create": True,
                       "columns": [{"name": "team_id", "type": "integer", "required": True},
                                   {"name": "name", "type": "text"}]},
        }
        if hold:
            spec["hold"] = True
        spec.update(extra)
        return spec

    def submit(self, spec, expect=201, token=None, headers=None):
        r = self.c.request("POST", Q, spec, token=token or self.op, headers=headers)
        expect_status(r, expect)
        return r.json

    def job(self, job_id, token=None):
        return expect_status(self.c.get(Q + "/" + job_id, token or self.viewer), 200).json

    def wait_status(self, job_id, statuses, deadline=DEADLINE_S):
        statuses = {statuses} if isinstance(statuses, str) else set(statuses)
        end = time.time() + deadline
        job = None
        while time.time() < end:
            job = self.job(job_id)
            if job["status"] in statuses:
                return job
            time.sleep(0.05)
        raise TestFailure("job %s is %s after %.0f s, expected %s (error: %s)" % (
            job_id, job and job["status"], deadline, "/".join(sorted(statuses)), job and job.get("error")))

    def list_all(self, query, token=None, limit=None):
        """Every item of GET /import-queue?query, following next_cursor."""
        items, cursor, pages = [], None, 0
        while True:
            q = query + ("&limit=%d" % limit if limit else "") + ("&cursor=" + cursor if cursor else "")
            page = expect_status(self.c.get(Q + "?" + q.lstrip("&"), token or self.viewer), 200).json
            items.extend(page["items"])
            pages += 1
            cursor = page["next_cursor"]
            check(pages < 1000, "paging does not end")
            if not cursor:
                return items, pages


# ------------------------------------------------------------ checks ----

def check_job(job, where=""):
    """The job resource of CONTRACT §3, member by member."""
    def is_opt(kind):
        return lambda v: v is None or isinstance(v, kind)

    def is_time(v):
        return isinstance(v, str) and TIME_RE.match(v)

    def is_opt_time(v):
        return v is None or is_time(v)

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    members = {
        "id": lambda v: isinstance(v, str) and UUID_RE.match(v),
        "request_id": is_opt(str), "name": lambda v: isinstance(v, str),
        "status": lambda v: v in STATUSES,
        "priority": lambda v: is_int(v) and 1 <= v <= 10,
        "depends_on": lambda v: isinstance(v, list) and all(isinstance(d, str) and UUID_RE.match(d) for d in v),
        "orchestration_id": is_opt(str), "schedule_id": is_opt(str), "scheduled_at": is_opt_time,
        "attempt": is_int, "max_attempts": is_int, "timeout_s": is_int,
        "resources": lambda v: isinstance(v, list) and all(
            isinstance(x, dict) and isinstance(x.get("name"), str) and x.get("mode") in ("shared", "exclusive") for x in v),
        "source": lambda v: isinstance(v, dict), "target": lambda v: isinstance(v, dict),
        "on_error": lambda v: isinstance(v, dict),
        "cancel_requested": lambda v: isinstance(v, bool), "worker": is_opt(str),
        "progress": lambda v: isinstance(v, dict) and v.get("phase") in PHASES and all(
            is_int(v.get(k)) for k in ("rows_read", "bytes_read", "bytes_total")) and isinstance(v.get("percent"), (int, float)),
        "result": lambda v: isinstance(v, dict) and all(
            is_int(v.get(k)) for k in ("rows_read", "rows_inserted", "rows_updated", "rows_rejected")),
        "error": is_opt(dict), "created_by": is_opt(str),
        "created_at": is_time, "updated_at": is_time, "started_at": is_opt_time, "finished_at": is_opt_time,
    }
    check(isinstance(job, dict), "%s: job is not an object: %r" % (where, job))
    for key, ok in members.items():
        check(key in job, "%s: job has no %r member: %s" % (where, key, json.dumps(job)[:300]))
        check(ok(job[key]), "%s: job member %r has a bad value %r" % (where, key, job[key]))


LEAN_MEMBERS = {"id", "name", "status", "priority", "table", "mode", "progress", "attempt", "max_attempts",
                "created_at", "started_at", "finished_at", "error"}


def check_lean_item(item, where=""):
    """A lean list item (CONTRACT §3): exactly LEAN_MEMBERS, each well-formed."""
    check(isinstance(item, dict) and set(item) == LEAN_MEMBERS,
          "%s: lean item members %r, expected %r" % (where, sorted(item) if isinstance(item, dict) else item,
                                                     sorted(LEAN_MEMBERS)))
    ok = (UUID_RE.match(item["id"]) and isinstance(item["name"], str) and item["status"] in STATUSES
          and isinstance(item["priority"], int) and isinstance(item["table"], str)
          and isinstance(item["mode"], str) and isinstance(item["attempt"], int)
          and isinstance(item["max_attempts"], int) and TIME_RE.match(item["created_at"])
          and all(item[k] is None or TIME_RE.match(item[k]) for k in ("started_at", "finished_at"))
          and (item["error"] is None or (isinstance(item["error"], dict) and set(item["error"]) <= {"code", "message"}))
          and isinstance(item["progress"], dict) and item["progress"].get("phase") in PHASES)
    check(ok, "%s: a malformed lean item %s" % (where, json.dumps(item)[:300]))


def lean_of(job):
    """What the lean item of a full job resource must say."""
    error = job["error"]
    return {"id": job["id"], "name": job["name"], "status": job["status"], "priority": job["priority"],
            "table": job["target"]["table"], "mode": job["target"]["mode"], "progress": job["progress"],
            "attempt": job["attempt"], "max_attempts": job["max_attempts"], "created_at": job["created_at"],
            "started_at": job["started_at"], "finished_at": job["finished_at"],
            "error": None if error is None else {k: error[k] for k in ("code", "message") if k in error}}


def router_routes():
    """(method, path) pairs of src/api/router.c's table, by regex."""
    text = open(os.path.join(ROOT, "src/api/router.c")).read()
    header = open(os.path.join(ROOT, "src/api/api_internal.h")).read()
    macros = {"API_PREFIX": re.search(r'#define\s+API_PREFIX\s+"([^"]*)"', header).group(1)}
    for m in re.finditer(r'#define\s+([A-Z])\s+API_PREFIX\s+"([^"]*)"', text):
        macros[m.group(1)] = macros["API_PREFIX"] + m.group(2)
    routes = set()
    for method, expr in re.findall(r'\{\s*"([A-Z]+)"\s*,\s*([^,]+),', text):
        path = ""
        for tok in re.findall(r'"[^"]*"|[A-Za-z_][A-Za-z0-9_]*', expr):
            if tok.startswith('"'):
                path += tok[1:-1]
            else:
                check(tok in macros, "router.c: unknown macro %s in a route pattern" % tok)
                path += macros[tok]
        routes.add((method, path))
    return routes


# ---------------------------------------------------------------- tests ----

TESTS = []


def test(name):
    def deco(fn):
        TESTS.append((name, fn))
        return fn
    return deco


# -- health and the document

@test("healthz answers without a token")
def t_healthz(x):
    r = expect_status(x.c.get("/healthz"), 200)
    check(r.json.get("status") == "ok", "healthz: %s" % r.describe())


@test("readyz: database reachable, schema current")
def t_readyz(x):
    r = expect_status(x.c.get("/readyz"), 200)
    check(r.json.get("status") == "ready" and isinstance(r.json.get("schema_version"), int), r.describe())
    check(r.json.get("backend") == x.args.backend, "readyz backend %r, expected %r" % (r.json.get("backend"), x.args.backend))


@test("openapi.json lists exactly the router's routes")
def t_openapi(x):
    r = expect_status(x.c.get(API + "/openapi.json"), 200)
    doc = r.json
    check(str(doc.get("openapi", "")).startswith("3.1"), "openapi version %r, expected 3.1.x" % doc.get("openapi"))
    documented = set()
    for path, ops in doc.get("paths", {}).items():
        for method in ops:
            if method in ("get", "put", "post", "delete", "patch", "head", "options"):
                documented.add((method.upper(), path))
    routed = router_routes()
    check(len(routed) >= 19, "parsed only %d routes from router.c: %r" % (len(routed), sorted(routed)))
    check(routed - documented == set(), "routes missing from openapi.json: %r" % sorted(routed - documented))
    check(documented - routed == set(), "openapi.json documents routes the router lacks: %r" % sorted(documented - routed))


@test("whoami: the token's name, role and what it may do")
def t_whoami(x):
    for token, name, role, can in ((x.viewer, x.viewer_name, "viewer", (True, False, False)),
                                    (x.op, x.op_name, "operator", (True, True, False)),
                                    (x.admin, "api-admin", "admin", (True, True, True))):
        r = expect_status(x.c.get(API + "/whoami", token), 200)
        got = r.json
        check(got.get("name") == name and got.get("role") == role, "whoami for %s: %s" % (role, r.describe()))
        check(got.get("can") == dict(zip(("read", "operate", "administer"), can)), "whoami can for %s: %r" % (role, got.get("can")))
    expect_problem(x.c.get(API + "/whoami"), 401)
    expect_problem(x.c.get(API + "/whoami?x=1", x.viewer), 400)


@test("GUI: / and its assets, with CSP, types, caching, gzip and 304")
def t_gui(x):
    r = expect_status(x.c.get("/"), 200)
    check((r.header("Content-Type") or "").startswith("text/html"), "GET / Content-Type %r" % r.header("Content-Type"))
    csp = r.header("Content-Security-Policy") or ""
    check("script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp,
          "GET / CSP %r" % csp)
    check(r.header("Cache-Control") == "no-cache" and r.header("ETag"), "GET / caching %r %r" % (r.header("Cache-Control"), r.header("ETag")))
    check(r.header("X-Content-Type-Options") == "nosniff", "GET / without nosniff")
    page = r.body.decode("utf-8")
    check("<script>" not in page and " on" + "click=" not in page, "index.html has an inline script or handler")
    m = re.search(r'src="(/assets/[0-9a-f]+/)app\.js"', page)
    check(m, "index.html names no versioned app.js: %r" % page[:500])
    base = m.group(1)
    r304 = x.c.get("/", headers={"If-None-Match": r.header("ETag")})
    check(r304.status == 304 and r304.body == b"", "If-None-Match on / gave %d" % r304.status)
    for name, ctype in (("app.js", "text/javascript"), ("app.css", "text/css"), ("favicon.svg", "image/svg+xml")):
        a = expect_status(x.c.get(base + name), 200)
        check((a.header("Content-Type") or "").startswith(ctype), "%s Content-Type %r" % (name, a.header("Content-Type")))
        check("immutable" in (a.header("Cache-Control") or "") and "max-age=31536000" in a.header("Cache-Control"),
              "%s Cache-Control %r" % (name, a.header("Cache-Control")))
        check(a.header("Content-Encoding") is None, "%s gzipped without Accept-Encoding" % name)
        z = expect_status(x.c.get(base + name, headers={"Accept-Encoding": "gzip, br"}), 200)
        check(z.header("Content-Encoding") == "gzip" and gzip.decompress(z.body) == a.body,
              "%s: gzip answer is not the plain file gzipped" % name)
        n = x.c.get(base + name, headers={"Accept-Encoding": "gzip;q=0"})
        check(n.header("Content-Encoding") is None, "%s gzipped though gzip;q=0" % name)
    expect_problem(x.c.get("/assets/0000000000000000/app.js"), 404)
    expect_problem(x.c.get(base + "nope.js"), 404)
    expect_problem(x.c.get(base + "index.html"), 404)
    api = expect_status(x.c.get(API + "/whoami", x.viewer), 200)
    check(api.header("Cache-Control") == "no-store", "API answers lost Cache-Control: no-store: %r" % api.header("Cache-Control"))


# -- submitting

@test("POST job: 201, Location, the job resource")
def t_create(x):
    spec = x.spec(hold=True)
    r = expect_status(x.c.request("POST", Q, spec, token=x.op), 201)
    job = r.json
    check_job(job, "POST")
    check(r.header("Location") == Q + "/" + job["id"], "Location %r, expected %s/%s" % (r.header("Location"), Q, job["id"]))
    check(job["status"] == "HELD", "a hold: true job is %s" % job["status"])
    check(job["name"] == spec["name"] and job["priority"] == 5 and job["max_attempts"] == 1,
          "name/priority/max_attempts not as submitted/defaulted: %s" % r.describe())
    check(job["created_by"] == x.op_name, "created_by %r, expected the token name %r" % (job["created_by"], x.op_name))
    check({"name": "table:" + spec["target"]["table"], "mode": "exclusive"} in job["resources"],
          "resources lack the exclusive target-table lock: %r" % job["resources"])
    x.held_id = job["id"]


@test("POST job: a repeated request_id answers 200 + the same job")
def t_request_id(x):
    spec = x.spec(hold=True, request_id="rid-" + x.tag)
    first = x.submit(spec, 201)
    r = expect_status(x.c.request("POST", Q, spec, token=x.op), 200)
    check(r.json["id"] == first["id"], "a repeated request_id made a new job %s (first %s)" % (r.json["id"], first["id"]))
    check(r.json["request_id"] == "rid-" + x.tag, "request_id %r" % r.json["request_id"])
    check_job(r.json, "repeat")


@test("POST job: a repeated Idempotency-Key answers 200 + the same job")
def t_idempotency_key(x):
    key = "idem-" + x.tag
    spec = x.spec(hold=True)
    first = expect_status(x.c.request("POST", Q, spec, token=x.op, headers={"Idempotency-Key": key}), 201).json
    check(first["request_id"] == key, "the header did not become request_id: %r" % first["request_id"])
    r = expect_status(x.c.request("POST", Q, spec, token=x.op, headers={"Idempotency-Key": key}), 200)
    check(r.json["id"] == first["id"], "a repeated Idempotency-Key made a new job")


@test("POST job: a CSV job runs to COMPLETED")
def t_completes_csv(x):
    job = x.submit(x.spec())
    done = x.wait_status(job["id"], ("COMPLETED", "FAILED"))
    check(done["status"] == "COMPLETED", "job FAILED: %r" % done["error"])
    check(done["result"]["rows_read"] == 3 and done["result"]["rows_inserted"] == 3,
          "result %r, expected 3 read, 3 inserted" % done["result"])
    check(done["started_at"] and done["finished_at"] and done["progress"]["phase"] == "done",
          "a completed job needs started_at, finished_at and phase done: %r" % done["progress"])
    check_job(done, "completed")
    x.completed_id = job["id"]


@test("POST job: a JSON (array at a pointer) job runs to COMPLETED")
def t_completes_json(x):
    spec = {"name": x.name("json"), "max_attempts": 1,
            "source": {"format": "json", "path": "steps.json", "json": {"records": "/steps"}},
            "target": {"table": x.table("steps"), "mode": "insert", "create": True,
                       "columns": [{"name": "step_id", "type": "integer", "required": True},
                                   {"name": "title", "type": "text"}]}}
    done = x.wait_status(x.submit(spec)["id"], ("COMPLETED", "FAILED"))
    check(done["status"] == "COMPLETED" and done["result"]["rows_inserted"] == 2,
          "json job: %s %r %r" % (done["status"], done["result"], done["error"]))


@test("GET job: the resource plus phases and locks")
def t_get(x):
    job = x.job(x.completed_id)
    check_job(job, "GET")
    check(isinstance(job.get("phases"), list) and job["phases"], "a completed job has no phases: %r" % job.get("phases"))
    for p in job["phases"]:
        check(p.get("phase") in TIMED_PHASES and isinstance(p.get("duration_ms"), int) and TIME_RE.match(p.get("started_at", "")),
              "bad phase entry %r" % p)
    check(isinstance(job.get("locks"), list) and job["locks"] == [], "a finished job holds locks: %r" % job.get("locks"))


# -- listing

@test("GET job: its direct dependents beside depends_on, the first 100, truncated beyond")
def t_job_dependents(x):
    root = x.submit(x.spec(hold=True))
    kids = [x.submit(x.spec(hold=True, depends_on=[root["id"]])) for _ in range(3)]
    grand = x.submit(x.spec(hold=True, depends_on=[kids[0]["id"]]))
    got = x.job(root["id"])
    check([d["id"] for d in got["dependents"]] == sorted(k["id"] for k in kids)
          and [d["name"] for d in got["dependents"]] == [k["name"] for k in sorted(kids, key=lambda k: k["id"])]
          and all(d["status"] == "HELD" for d in got["dependents"]) and got["dependents_truncated"] is False,
          "dependents of the root: %r" % got["dependents"])
    check(x.job(kids[0]["id"])["dependents"] == [{"id": grand["id"], "name": grand["name"], "status": "HELD"}],
          "dependents of a child: %r" % x.job(kids[0]["id"])["dependents"])
    leaf = x.job(grand["id"])
    check(leaf["dependents"] == [] and leaf["dependents_truncated"] is False, "a leaf: %r" % leaf["dependents"])
    # cancelling the root fails its dependants: the statuses follow
    expect_status(x.c.request("DELETE", Q + "/" + root["id"], token=x.op), 200)
    check({d["status"] for d in x.job(root["id"])["dependents"]} == {"FAILED"}, "after the root's cancel")
    # 101 dependants: the first 100 by id, and the flag
    jobs = [{"key": "root", "hold": True, "source": {"format": "csv", "path": "teams.csv"},
             "target": {"table": x.table("deps")}}]
    jobs += [{"key": "k%03d" % i, "after": ["root"], "source": {"format": "csv", "path": "teams.csv"},
              "target": {"table": x.table("deps")}} for i in range(101)]
    r = expect_status(x.c.request("POST", API + "/import-orchestrations", {"name": x.name("deps"), "jobs": jobs},
                                  token=x.op), 201)
    ids = {j["key"]: j["id"] for j in r.json["jobs"]}
    got = x.job(ids["root"])
    want = sorted(v for k, v in ids.items() if k != "root")[:100]
    check([d["id"] for d in got["dependents"]] == want and got["dependents_truncated"] is True,
          "101 dependants: %d listed, truncated %r" % (len(got["dependents"]), got["dependents_truncated"]))
    expect_status(x.c.request("DELETE", Q + "/" + ids["root"], token=x.op), 200)


@test("GET list: filters status, priority, created, table, q")
def t_list_filters(x):
    tag = "flt" + x.tag
    made = []
    for i, prio in enumerate((2, 5, 8)):
        spec = x.spec(hold=True, table="flt_%s_%d" % (x.tag, i), name="%s %d" % (tag, i), priority=prio)
        made.append(x.submit(spec))
        time.sleep(0.01)
    expect_status(x.c.request("DELETE", Q + "/" + made[0]["id"], token=x.op), 200)
    ids = [j["id"] for j in made]

    def listed(query):
        items, _ = x.list_all("q=%s&%s" % (tag, query))
        for j in items:
            check_lean_item(j, "list")
        full, _ = x.list_all("q=%s&%s&view=full" % (tag, query))
        for j in full:
            check_job(j, "list view=full")
        check([j["id"] for j in full] == [j["id"] for j in items], "view=full lists other jobs than the lean list")
        return [j["id"] for j in items]

    got = listed("status=HELD,CANCELLED")
    check(sorted(got) == sorted(ids), "status=HELD,CANCELLED: %r, expected %r" % (got, ids))
    check(listed("status=CANCELLED") == [ids[0]], "status=CANCELLED did not find exactly the cancelled job")
    check(listed("status=HELD") == [ids[2], ids[1]], "status=HELD: expected the two held ones, newest first")
    check(listed("status=held,Cancelled") == listed("status=HELD,CANCELLED"), "status names are not case-insensitive")
    got = listed("priority_min=3&priority_max=8")
    check(sorted(got) == sorted(ids[1:]), "priority 3..8: %r, expected the 5 and the 8" % got)
    check(listed("priority_max=2") == [ids[0]], "priority_max=2 did not find exactly the priority-2 job")
    got = listed("created_after=" + made[0]["created_at"])
    check(sorted(got) == sorted(ids[1:]), "created_after the first: %r" % got)
    got = listed("created_before=" + made[2]["created_at"])
    check(sorted(got) == sorted(ids[:2]), "created_before the last: %r" % got)
    check(listed("table=flt_%s_1" % x.tag) == [ids[1]], "table= did not find exactly its job")
    items, _ = x.list_all("q=" + tag)
    check(sorted(j["id"] for j in items) == sorted(ids), "q=%s found %d jobs, expected 3" % (tag, len(items)))
    items, _ = x.list_all("q=nosuchname" + x.tag)
    check(items == [], "q of an unknown name found %d jobs" % len(items))


@test("GET list: cursor paging through every page, no duplicates")
def t_list_paging(x):
    tag = "page" + x.tag
    ids = [x.submit(dict(x.spec(hold=True), name="%s %d" % (tag, i)))["id"] for i in range(7)]
    items, pages = x.list_all("q=" + tag, limit=2)
    got = [j["id"] for j in items]
    check(pages == 4, "7 jobs at limit=2 took %d pages, expected 4" % pages)
    check(len(got) == len(set(got)), "duplicates across pages: %r" % got)
    check(set(got) == set(ids), "pages found %d of the 7 jobs" % len(set(got) & set(ids)))
    check(got == sorted(got, reverse=True), "pages are not newest first")
    page = expect_status(x.c.get(Q + "?limit=1", x.viewer), 200).json
    check(len(page["items"]) == 1 and isinstance(page["next_cursor"], str), "limit=1: %r" % page)


@test("GET list: lean items by default, view=full, fields= (validated)")
def t_list_views(x):
    tag = "view" + x.tag
    held = x.submit(dict(x.spec(hold=True), name="%s held" % tag))
    done = x.submit(dict(x.spec(path="bad_teams.csv"), name="%s failed" % tag))
    x.wait_status(done["id"], ("COMPLETED", "FAILED"))
    items, _ = x.list_all("q=" + tag)
    check(sorted(j["id"] for j in items) == sorted((held["id"], done["id"])), "q=%s found %r" % (tag, items))
    for item in items:
        check_lean_item(item, "lean list")
        want = lean_of(x.job(item["id"]))
        check(item == want, "lean item %s, expected %s" % (json.dumps(item), json.dumps(want)))
    full, _ = x.list_all("q=%s&view=full" % tag)
    for job in full:
        check_job(job, "view=full")
        got = x.job(job["id"])
        check(all(job[k] == got[k] for k in job), "view=full item differs from GET of the job: %s" % json.dumps(job)[:300])
    check(x.list_all("q=%s&view=lean" % tag)[0] == items, "view=lean is not the default")
    page = expect_status(x.c.get(Q + "?q=%s&fields=name,priority" % tag, x.viewer), 200).json
    check(all(set(j) == {"id", "name", "priority"} for j in page["items"]) and len(page["items"]) == 2,
          "fields=name,priority: %r" % page["items"])
    page = expect_status(x.c.get(Q + "?q=%s&fields=request_id,table,mode,worker" % tag, x.viewer), 200).json
    check(all(set(j) == {"id", "request_id", "table", "mode", "worker"} for j in page["items"])
          and all(j["table"] == {held["id"]: held, done["id"]: done}[j["id"]]["target"]["table"] for j in page["items"]),
          "fields=request_id,table,mode,worker: %r" % page["items"])
    expect_problem(x.c.get(Q + "?fields=name,colour", x.viewer), 400, "fields")
    expect_problem(x.c.get(Q + "?fields=" + ",".join(["name"] * 200), x.viewer), 400, "fields")
    expect_problem(x.c.get(Q + "?view=wide", x.viewer), 400, "view")
    expect_problem(x.c.get(Q + "?view=full&fields=name", x.viewer), 400, "fields")


@test("GET list: filter by orchestration_id")
def t_list_orchestration(x):
    orch = orchestration(x, "lo")
    items, _ = x.list_all("orchestration_id=%s&view=full" % orch["id"])
    check(sorted(j["id"] for j in items) == sorted(j["id"] for j in orch["jobs"]),
          "orchestration_id filter found %r" % [j["id"] for j in items])
    check(all(j["orchestration_id"] == orch["id"] for j in items), "jobs lack orchestration_id")


@test("GET status: counts and capacity")
def t_status(x):
    before = expect_status(x.c.get(Q + "/status", x.viewer), 200).json
    x.submit(x.spec(hold=True))
    r = expect_status(x.c.get(Q + "/status", x.viewer), 200)
    s = r.json
    check(s.get("held") == before.get("held", -2) + 1, "held went from %r to %r after one held submission" % (before.get("held"), s.get("held")))
    for key in ("queued", "held", "running", "completed_24h", "failed_24h", "max_concurrent",
                "available_slots", "queue_capacity", "oldest_queued_age_s", "open_alerts",
                "acked_alerts"):
        check(isinstance(s.get(key), int) and s[key] >= 0, "status %r: %r" % (key, s.get(key)))
    check(s["held"] >= 1 and s["completed_24h"] >= 1, "held %d / completed_24h %d too low" % (s["held"], s["completed_24h"]))
    check(s["max_concurrent"] == 3 and s["queue_capacity"] == 1000, "defaults: %r" % s)
    check(s["health"] in ("ok", "degraded", "down"), "health %r" % s.get("health"))
    check(isinstance(s.get("nodes"), list) and any(n.get("status") == "alive" for n in s["nodes"]),
          "no alive node in %r" % s.get("nodes"))


@test("GET status: answers from its copy while a refresh waits (PostgreSQL: a locked queue), figures catch up")
def t_status_refresh_off_request_path(x):
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))
    job = x.submit(x.spec(scheduled_at=when))
    # After a change through this node, the figures include it.
    first = expect_status(x.c.get(Q + "/status", x.viewer), 200).json
    done_before = first["completed_24h"]
    if x.args.backend == "postgres":
        # A transaction holding the queue table: every count waits for it,
        # so the refresh that the request below asks for cannot end.
        locker = subprocess.Popen(["psql", "-XAtq", x.db], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            locker.stdin.write("BEGIN;\nLOCK TABLE stg_import_queue IN ACCESS EXCLUSIVE MODE;\n"
                               "SELECT 'locked';\n")
            locker.stdin.flush()
            check(locker.stdout.readline().strip() == "locked", "psql could not lock the queue table")
            time.sleep(0.6)  # past the refresh period: the copy is due for a refresh
            r = expect_status(x.c.get(Q + "/status", x.viewer, timeout=10), 200)
            check(isinstance(r.json.get("completed_24h"), int) and r.json.get("nodes"),
                  "status while a refresh waits: %s" % r.describe())
            waiting = sql(x.db, "SELECT count(*) FROM pg_locks WHERE NOT granted"
                                " AND relation = 'stg_import_queue'::regclass")
            check(int(waiting) >= 1, "nothing waits for the locked queue table")
        finally:
            locker.stdin.write("COMMIT;\n")
            locker.stdin.close()
            locker.wait(timeout=30)
    # The job runs at its time (no change through this node): the next
    # refreshes count it.
    x.wait_status(job["id"], "COMPLETED")
    deadline = time.time() + DEADLINE_S
    while True:
        s = expect_status(x.c.get(Q + "/status", x.viewer), 200).json
        if s["completed_24h"] >= done_before + 1:
            break
        check(time.time() < deadline, "completed_24h still %r (was %r) %.0f s after the job completed" % (
            s["completed_24h"], done_before, DEADLINE_S))
        time.sleep(0.1)


# -- health: the status's verdict and the health history

def status_until(x, client, token, cond, what):
    """GET status until cond(status) holds (its copy refreshes off the request path)."""
    deadline = time.time() + DEADLINE_S
    while True:
        s = expect_status(client.get(Q + "/status", token), 200).json
        if cond(s):
            return s
        check(time.time() < deadline, "status never showed %s: %r" % (what, s))
        time.sleep(0.1)


def reason_codes(status):
    reasons = status.get("health_reasons")
    check(isinstance(reasons, list) and all(isinstance(r.get("code"), str) and isinstance(r.get("message"), str)
                                            for r in reasons), "health_reasons %r" % reasons)
    return {r["code"] for r in reasons}


@test("GET status: open_alerts and acked_alerts count alert rows; a critical one, acked or not, degrades health")
def t_status_open_alerts(x):
    before = status_until(x, x.c, x.viewer, lambda s: True, "anything")
    tag = "api-test-" + x.tag
    # a rule of no built-in name (the server's alert loop leaves it alone), one
    # entity per row (an alert is open once per rule and entity)
    for i, (severity, state) in enumerate((("critical", "open"), ("warning", "open"), ("critical", "resolved"),
                                           ("critical", "acked"), ("warning", "acked"))):
        sql(x.db, "INSERT INTO stg_import_monitoring (kind, rule, severity, state, entity, entity_id, created_at)"
                  " VALUES ('alert', 'api_test', '%s', '%s', '%s', '%s-%d', '2026-01-01T00:00:00.000Z')"
                  % (severity, state, tag, tag, i))
    # the server's own alerts (a job an earlier test failed) count too: compare
    # with what it had before
    def critical(s):
        for r in s.get("health_reasons", []):
            if r["code"] == "critical_alerts":
                return int(r["message"].split()[0])
        return 0
    try:
        s = status_until(x, x.c, x.viewer, lambda s: s["open_alerts"] == before["open_alerts"] + 2
                         and s["acked_alerts"] == before["acked_alerts"] + 2
                         and critical(s) == critical(before) + 2,
                         "two more open alerts and two more acked, two critical")
        check(s["health"] == "degraded", "status %r" % s)
        # the acknowledged critical one alone still degrades health: it is still firing
        sql(x.db, "UPDATE stg_import_monitoring SET state = 'resolved' WHERE entity = '%s'"
                  " AND state = 'open'" % tag)
        s = status_until(x, x.c, x.viewer, lambda s: s["open_alerts"] == before["open_alerts"]
                         and critical(s) == critical(before) + 1, "only the acked alerts left")
        check(s["health"] == "degraded", "an acked critical alert: status %r" % s)
    finally:
        sql(x.db, "UPDATE stg_import_monitoring SET state = 'resolved' WHERE entity = '%s'" % tag)
    status_until(x, x.c, x.viewer, lambda s: s["open_alerts"] == before["open_alerts"]
                 and s["acked_alerts"] == before["acked_alerts"]
                 and critical(s) == critical(before), "the alerts resolved")


@test("GET status: a full queue is degraded health, with its reason")
def t_status_queue_full(x):
    aux = x.aux_client
    mine = []
    try:
        for i in range(3):
            r = aux.request("POST", Q, x.spec(hold=True), token=x.aux_op)
            if r.status == 429:
                break
            mine.append(expect_status(r, 201).json["id"])
        s = status_until(x, aux, x.aux_op, lambda s: s["held"] + s["queued"] >= 2, "a full queue")
        check(s["health"] == "degraded" and reason_codes(s) == {"queue_full"}, "aux status %r" % s)
        s = expect_status(x.c.get(Q + "/status", x.viewer), 200).json
        check("queue_full" not in reason_codes(s), "the main server's status %r" % s)
    finally:  # the 429 test fills the queue itself
        for job_id in mine:
            aux.request("DELETE", Q + "/" + job_id, token=x.aux_op)
    s = status_until(x, aux, x.aux_op, lambda s: s["health"] == "ok", "the queue emptied")
    check(s["health_reasons"] == [], "aux status %r" % s)


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"


def health_get(x, query, token=None):
    return x.c.get(API + "/import-monitoring/health" + query, token or x.viewer)


@test("GET import-monitoring/health: seeded samples in buckets (peaks, sums, rows/s)")
def t_health_series(x):
    # Ten minutes past the hour two to three hours ago: a time this server
    # never sampled, younger than the retention (no compaction touches it
    # meanwhile), and 120 s that stay inside one hour for the 1h bucket
    # below (two hours before the minute, a run at XX:59 split them).
    base = int(time.time() - 7200) // 3600 * 3600 + 600
    for i in range(1, 13):  # samples ending base+10 … base+120
        sql(x.db, "INSERT INTO stg_import_monitoring (kind, period_s, created_at, queue_depth, held, running,"
                  " locks_held, jobs_finished, jobs_failed, rows_imported, oldest_queued_age_s)"
                  " VALUES ('health', 10, '%s', %d, 0, 1, 2, 1, %d, 10, %d)"
                  % (rfc3339(base + 10 * i), i, 1 if i == 3 else 0, 100 * i))
    r = expect_status(health_get(x, "?since=%s&until=%s&step=60" % (rfc3339(base), rfc3339(base + 120))), 200)
    doc = r.json
    check(doc["step_s"] == 60 and doc["interval_s"] == 10, "series %r" % doc)
    check(doc["since"] == rfc3339(base) and doc["until"] == rfc3339(base + 120), "series %r" % doc)
    points = doc["points"]
    check([p["at"] for p in points] == [rfc3339(base), rfc3339(base + 60)], "points %r" % points)
    first, second = points
    check(first["covered_s"] == 60 and first["jobs_finished"] == 6 and first["rows_imported"] == 60,
          "first bucket %r" % first)
    check(first["queued"] == 6 and second["queued"] == 12, "peaks %r" % points)
    check(first["jobs_failed"] == 1 and second["jobs_failed"] == 0, "failed %r" % points)
    check(abs(first["rows_per_s"] - 1.0) < 1e-9 and first["running"] == 1 and first["locks_held"] == 2,
          "first bucket %r" % first)
    check(second["oldest_queued_age_s"] == 1200, "second bucket %r" % second)
    # One bucket, and a duration as since.
    r = expect_status(health_get(x, "?since=%s&until=%s&step=1h" % (rfc3339(base), rfc3339(base + 120))), 200)
    check(len(r.json["points"]) == 1 and r.json["points"][0]["jobs_finished"] == 12, "1h bucket %r" % r.json)
    r = expect_status(health_get(x, "?since=2min&until=%s&step=5min" % rfc3339(base + 120)), 200)
    check(r.json["since"] == rfc3339(base) and sum(p["jobs_finished"] for p in r.json["points"]) == 12,
          "since=2min: %r" % r.json)


@test("GET import-monitoring/health: the server samples itself; default since and step")
def t_health_series_live(x):
    deadline = time.time() + DEADLINE_S
    while True:
        doc = expect_status(health_get(x, ""), 200).json
        if doc["points"]:
            break
        check(time.time() < deadline, "no health sample in the last hour: %r" % doc)
        time.sleep(0.2)
    check(doc["step_s"] == 12, "default step for an hour: %r" % doc["step_s"])  # 3600 s / 300
    for p in doc["points"]:
        for key in ("covered_s", "queued", "held", "running", "locks_held", "jobs_finished", "jobs_failed",
                    "rows_imported", "oldest_queued_age_s"):
            check(isinstance(p.get(key), int) and p[key] >= 0, "point %r: %r" % (key, p))
        check(TIME_RE.match(p["at"]) and isinstance(p["rows_per_s"], (int, float)), "point %r" % p)


@test("GET import-monitoring/health: 422 on bad arguments, 400 on unknown ones, 401 without a token")
def t_health_series_errors(x):
    for query, field in (("?step=0", "step"), ("?step=abc", "step"), ("?step=1500ms", "step"),
                         ("?step=2d", "step"), ("?since=yesterday", "since"), ("?until=now", "until"),
                         ("?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "since"),
                         ("?since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z&step=60", "step")):
        expect_problem(health_get(x, query), 422, field)
    expect_problem(health_get(x, "?sinse=1h"), 400)
    expect_problem(x.c.get(API + "/import-monitoring/health"), 401)


@test("readyz: 503 while the schema is newer than this binary's")
def t_readyz_schema_not_current(x):
    sql(x.aux.db, "INSERT INTO importq_schema_version (version, name, applied_at)"
                  " VALUES (999, 'from_the_future', '2026-01-01T00:00:00.000Z')")
    try:
        # A client of its own: this 503 is wanted, not one of the suite's 5xx.
        r = expect_status(Client(x.aux.port).get("/readyz"), 503)
        check(r.json.get("expected") != 999 and r.json.get("schema_version") == 999, r.describe())
    finally:
        sql(x.aux.db, "DELETE FROM importq_schema_version WHERE version = 999")
    expect_status(x.aux_client.get("/readyz"), 200)


# -- changing

@test("PUT a HELD job: 200 and the change sticks")
def t_put(x):
    job = x.submit(x.spec(hold=True))
    r = expect_status(x.c.request("PUT", Q + "/" + job["id"], {"priority": 2, "name": "renamed " + x.tag,
                                                                 "timeout_s": 77}, token=x.op), 200)
    check_job(r.json, "PUT")
    got = x.job(job["id"])
    check((got["priority"], got["name"], got["timeout_s"], got["status"]) == (2, "renamed " + x.tag, 77, "HELD"),
          "after PUT: priority %r name %r timeout_s %r status %r" % (got["priority"], got["name"], got["timeout_s"], got["status"]))


@test("PUT: a field that cannot change is 422, a finished job 409, a cycle 409")
def t_put_errors(x):
    job = x.submit(x.spec(hold=True))
    expect_problem(x.c.request("PUT", Q + "/" + job["id"], {"status": "COMPLETED"}, token=x.op), 422, "status")
    expect_problem(x.c.request("PUT", Q + "/" + job["id"], {"priority": 11}, token=x.op), 422, "priority")
    expect_problem(x.c.request("PUT", Q + "/" + x.completed_id, {"priority": 3}, token=x.op), 409)
    child = x.submit(x.spec(hold=True, depends_on=[job["id"]]))
    expect_problem(x.c.request("PUT", Q + "/" + job["id"], {"depends_on": [child["id"]]}, token=x.op), 409)
    expect_problem(x.c.request("PUT", Q + "/" + BOGUS_ID, {"priority": 3}, token=x.op), 404)


@test("DELETE a QUEUED job: 200 CANCELLED")
def t_cancel_queued(x):
    job = x.submit(x.spec(scheduled_at="2099-01-01T00:00:00Z"))
    check(job["status"] == "QUEUED", "a future job is %s, expected QUEUED" % job["status"])
    r = expect_status(x.c.request("DELETE", Q + "/" + job["id"], token=x.op), 200)
    check(r.json["status"] == "CANCELLED", "DELETE answered %s" % r.json["status"])
    check(x.job(job["id"])["status"] == "CANCELLED", "GET after DELETE is not CANCELLED")
    x.cancelled_id = job["id"]


@test("DELETE a finished job: 409")
def t_cancel_finished(x):
    expect_problem(x.c.request("DELETE", Q + "/" + x.completed_id, token=x.op), 409)
    expect_problem(x.c.request("DELETE", Q + "/" + x.cancelled_id, token=x.op), 409)


@test("execute a HELD job: 202, then it completes")
def t_execute_held(x):
    job = x.submit(x.spec(hold=True))
    r = expect_status(x.c.request("POST", Q + "/" + job["id"] + "/execute", token=x.op), 202)
    check_job(r.json, "execute")
    check(r.json["status"] != "HELD", "execute answered a job still HELD")
    done = x.wait_status(job["id"], ("COMPLETED", "FAILED"))
    check(done["status"] == "COMPLETED", "executed job FAILED: %r" % done["error"])


@test("execute a COMPLETED job: 409")
def t_execute_completed(x):
    expect_problem(x.c.request("POST", Q + "/" + x.completed_id + "/execute", token=x.op), 409)


@test("execute a CANCELLED job: 202, a new attempt that completes")
def t_execute_cancelled(x):
    job = x.submit(x.spec(hold=True))
    expect_status(x.c.request("DELETE", Q + "/" + job["id"], token=x.op), 200)
    expect_status(x.c.request("POST", Q + "/" + job["id"] + "/execute", token=x.op), 202)
    check(x.wait_status(job["id"], ("COMPLETED", "FAILED"))["status"] == "COMPLETED", "re-executed job failed")


@test("rejects: on_error skip, text/csv with the bad line")
def t_rejects(x):
    spec = x.spec(path="bad_teams.csv", on_error={"action": "skip"})
    done = x.wait_status(x.submit(spec)["id"], ("COMPLETED", "FAILED"))
    check(done["status"] == "COMPLETED", "skip job %s: %r" % (done["status"], done["error"]))
    check(done["result"]["rows_rejected"] == 1 and done["result"]["rows_inserted"] == 2,
          "result %r, expected 2 inserted and 1 rejected" % done["result"])
    r = expect_status(x.c.get(Q + "/" + done["id"] + "/rejects", x.viewer), 200)
    check((r.header("Content-Type") or "").startswith("text/csv"), "rejects Content-Type %r" % r.header("Content-Type"))
    lines = r.body.decode().splitlines()
    check(lines and lines[0] == "line,column,value,error", "rejects header %r" % lines[:1])
    rows = list(csv.reader(io.StringIO(r.body.decode())))
    check(len(rows) == 2, "expected one reject row, got %r" % lines)
    check(rows[1][:3] == ["3", "team_id", "four"] and len(rows[1]) == 4 and rows[1][3],
          "reject row %r, expected line 3, column team_id, value four, an error" % lines[1])
    r = expect_status(x.c.get(Q + "/" + x.completed_id + "/rejects", x.viewer), 200)
    check(r.body.decode().splitlines() == ["line,column,value,error"], "a clean job has rejects: %r" % r.body[:200])


@test("rejects: a one-line JSON array names each bad record, its pointer and the column")
def t_rejects_json(x):
    spec = x.spec(path="bad_teams.json", on_error={"action": "skip"})
    spec["source"] = {"format": "json", "path": "bad_teams.json"}
    done = x.wait_status(x.submit(spec)["id"], ("COMPLETED", "FAILED"))
    check(done["status"] == "COMPLETED", "skip job %s: %r" % (done["status"], done["error"]))
    r = expect_status(x.c.get(Q + "/" + done["id"] + "/rejects", x.viewer), 200)
    rows = list(csv.reader(io.StringIO(r.body.decode())))
    check(rows and rows[0] == ["line", "column", "value", "error", "record", "pointer"],
          "JSON rejects header %r" % rows[:1])
    got = [(row[0], row[1], row[2], row[4], row[5]) for row in rows[1:]]
    check(got == [("1", "team_id", "four", "1", "/1/team_id"),
                  ("1", "team_id", "12345678901234567890", "2", "/2/team_id"),
                  ("1", "team_id", "", "3", "/3/team_id")],
          "JSON reject rows %r" % rows[1:])
    check("out of range for integer" in rows[2][3], "big integer reject %r" % rows[2])
    job = expect_status(x.c.get(Q + "/" + done["id"], x.viewer), 200).json
    check(job["rejects"][0].get("record") == 1 and job["rejects"][0].get("pointer") == "/1/team_id",
          "job rejects sample %r" % job["rejects"][:1])


# -- uploads

@test("upload: 201 with bytes and sha256, then a job reads it")
def t_upload(x):
    data = b"team_id,name\n" + b"".join(b"%d,team %d\n" % (i, i) for i in range(1, 501))
    r = expect_status(x.c.request("POST", API + "/uploads", data, token=x.op, content_type="text/csv"), 201)
    up = r.json
    check(isinstance(up.get("id"), str) and UUID_RE.match(up["id"]), "upload id %r" % up.get("id"))
    check(up.get("bytes") == len(data), "upload bytes %r, sent %d" % (up.get("bytes"), len(data)))
    check(up.get("sha256") == hashlib.sha256(data).hexdigest(), "upload sha256 %r != %s" % (up.get("sha256"), hashlib.sha256(data).hexdigest()))
    spec = x.spec()
    spec["source"] = {"format": "csv", "upload": up["id"]}
    done = x.wait_status(x.submit(spec)["id"], ("COMPLETED", "FAILED"))
    check(done["status"] == "COMPLETED" and done["result"]["rows_inserted"] == 500,
          "upload job %s %r %r" % (done["status"], done["result"], done["error"]))


@test("upload: a chunked body is hashed the same")
def t_upload_chunked(x):
    data = os.urandom(200000)
    head = ("POST %s/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n" % (API, x.op)).encode()
    status, raw = raw_exchange(x.c.port, head + chunked(data, 30000))
    check(status == 201, "chunked upload: %r" % raw[:300])
    doc = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    check(doc["bytes"] == len(data) and doc["sha256"] == hashlib.sha256(data).hexdigest(), "chunked upload %r" % doc)


# -- orchestrations

def orchestration(x, what):
    teams, users = x.table(what + "teams"), x.table(what + "users")
    body = {"name": x.name("orch"), "jobs": [
        {"key": "users", "after": ["teams"], "max_attempts": 1,
         "source": {"format": "csv", "path": "users.csv"},
         "target": {"table": users, "mode": "insert", "create": True,
                    "columns": [{"name": "user_id", "type": "bigint", "required": True},
                                {"name": "email", "type": "text", "required": True},
                                {"name": "team_id", "type": "integer", "references": teams + ".team_id"}]}},
        {"key": "teams", "max_attempts": 1, "source": {"format": "csv", "path": "teams.csv"},
         "target": {"table": teams, "mode": "insert", "create": True,
                    "columns": [{"name": "team_id", "type": "integer", "required": True},
                                {"name": "name", "type": "text"}]}}]}
    r = expect_status(x.c.request("POST", API + "/import-orchestrations", body, token=x.op), 201)
    orch = r.json
    check(isinstance(orch.get("id"), str) and isinstance(orch.get("status"), str) and len(orch.get("jobs", [])) == 2,
          "orchestration answer %s" % r.describe())
    check(r.header("Location") == API + "/import-orchestrations/" + orch["id"], "orchestration Location %r" % r.header("Location"))
    for j in orch["jobs"]:
        check_job(j, "orchestration job")
    return orch


@test("orchestration: teams then users, in order, aggregate COMPLETED")
def t_orchestration(x):
    orch = orchestration(x, "o")
    by_key = {j["key"]: j for j in orch["jobs"]}
    check(set(by_key) == {"teams", "users"}, "job keys %r" % list(by_key))
    check(by_key["users"]["depends_on"] == [by_key["teams"]["id"]],
          "users depends_on %r, expected teams' id" % by_key["users"]["depends_on"])
    end = time.time() + DEADLINE_S
    while time.time() < end:
        got = expect_status(x.c.get(API + "/import-orchestrations/" + orch["id"], x.viewer), 200).json
        if got["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.05)
    check(got["status"] == "COMPLETED", "orchestration is %s: %r" % (got["status"], [(j["key"], j["status"], j["error"]) for j in got["jobs"]]))
    jobs = {j["key"]: j for j in got["jobs"]}
    check(all(j["status"] == "COMPLETED" for j in jobs.values()), "jobs %r" % [(k, j["status"]) for k, j in jobs.items()])
    check(jobs["users"]["started_at"] >= jobs["teams"]["finished_at"],
          "users started %s before teams finished %s" % (jobs["users"]["started_at"], jobs["teams"]["finished_at"]))
    page = expect_status(x.c.get(API + "/import-orchestrations?limit=500", x.viewer), 200).json
    check(orch["id"] in [o["id"] for o in page["items"]] and "next_cursor" in page, "orchestration list lacks it")


@test("orchestration: a cycle is 409, nothing created")
def t_orchestration_cycle(x):
    before = expect_status(x.c.get(API + "/import-orchestrations?limit=500", x.viewer), 200).json["items"]
    body = {"name": x.name("cycle"), "jobs": [
        dict(x.spec(), key="a", after=["b"]), dict(x.spec(), key="b", after=["a"])]}
    for j in body["jobs"]:
        del j["name"]
    expect_problem(x.c.request("POST", API + "/import-orchestrations", body, token=x.op), 409)
    after = expect_status(x.c.get(API + "/import-orchestrations?limit=500", x.viewer), 200).json["items"]
    check(len(after) == len(before), "a rejected orchestration was created")
    bad = {"name": "x", "jobs": [dict(x.spec(), key="a", after=["nope"])]}
    r = x.c.request("POST", API + "/import-orchestrations", bad, token=x.op)
    check(r.status in (409, 422), "an unknown after key: %s" % r.describe())
    expect_problem(x.c.request("POST", API + "/import-orchestrations", {"jobs": []}, token=x.op), 422, "jobs")
    expect_problem(x.c.get(API + "/import-orchestrations/" + BOGUS_ID, x.viewer), 404)


# -- scheduled imports

S = API + "/scheduled-imports"


def schedule_body(x, table=None, cron="0 3 * * *", **extra):
    body = {"name": extra.pop("name", None) or x.name("schedule"), "cron": cron,
            "job": {"source": {"format": "csv", "path": "users-{date}.csv"},
                    "target": {"table": table or x.table("sched"), "mode": "append"}}}
    body.update(extra)
    return body


def check_schedule(s, where=""):
    keys = {"id", "name", "cron", "timezone", "job", "misfire", "overlap", "catch_up_max", "enabled",
            "next_run_at", "last_run_at", "last_status", "last_job_id", "run_count", "success_count",
            "failure_count", "created_by", "created_at", "updated_at"}
    check(isinstance(s, dict) and keys <= set(s), "%s schedule lacks %r: %r" % (where, sorted(keys - set(s or {})), s))
    check(UUID_RE.match(s["id"]), "%s schedule id %r" % (where, s["id"]))
    check(s["next_run_at"] is None or TIME_RE.match(s["next_run_at"]), "%s next_run_at %r" % (where, s["next_run_at"]))
    check(TIME_RE.match(s["created_at"]) and TIME_RE.match(s["updated_at"]), "%s times %r" % (where, s))


def create_schedule(x, body, expect=201):
    r = expect_status(x.c.request("POST", S, body, token=x.op), expect)
    return r


@test("schedules: create 201 with Location and warnings, get, list, put, pause, resume, delete")
def t_schedule_crud(x):
    body = schedule_body(x, name="crud-" + x.tag, timezone="Europe/Zurich", misfire="catch_up", overlap="queue",
                         catch_up_max=7)
    r = create_schedule(x, body)
    s = r.json
    check_schedule(s, "POST")
    check(r.header("Location") == S + "/" + s["id"], "Location %r" % r.header("Location"))
    check(s["warnings"] == [], "a lone schedule has warnings: %r" % s["warnings"])
    check((s["name"], s["cron"], s["timezone"], s["misfire"], s["overlap"], s["catch_up_max"], s["enabled"]) ==
          (body["name"], "0 3 * * *", "Europe/Zurich", "catch_up", "queue", 7, True), "fields %r" % s)
    check(s["job"]["source"]["path"] == "users-{date}.csv", "the template is not kept as written: %r" % s["job"])
    check(s["created_by"] == x.op_name and s["run_count"] == 0 and s["last_status"] is None, "state %r" % s)
    check(s["next_run_at"] is not None, "no next_run_at")
    got = expect_status(x.c.get(S + "/" + s["id"], x.viewer), 200).json
    check_schedule(got, "GET")
    check(got["next_run_at"] == s["next_run_at"] and "warnings" not in got, "GET %r" % got)
    page = expect_status(x.c.get(S + "?limit=500", x.viewer), 200).json
    check(s["id"] in [i["id"] for i in page["items"]] and "next_cursor" in page, "list lacks it")
    found = expect_status(x.c.get(S + "?q=CRUD-" + x.tag, x.viewer), 200).json
    check([i["id"] for i in found["items"]] == [s["id"]], "q search %r" % found)
    # PUT replaces; defaults come back for what it leaves out.
    put = dict(body, cron="@hourly")
    del put["misfire"]
    u = expect_status(x.c.request("PUT", S + "/" + s["id"], put, token=x.op), 200).json
    check_schedule(u, "PUT")
    check(u["cron"] == "@hourly" and u["misfire"] == "run_once" and "warnings" in u, "PUT %r" % u)
    p = expect_status(x.c.request("POST", S + "/" + s["id"] + "/pause", token=x.op), 200).json
    check(p["enabled"] is False and p["next_run_at"] == u["next_run_at"], "pause %r" % p)
    paused = expect_status(x.c.get(S + "?enabled=false&limit=500", x.viewer), 200).json
    check(s["id"] in [i["id"] for i in paused["items"]], "enabled=false lacks it")
    enabled = expect_status(x.c.get(S + "?enabled=true&limit=500", x.viewer), 200).json
    check(s["id"] not in [i["id"] for i in enabled["items"]], "enabled=true has a paused one")
    q = expect_status(x.c.request("POST", S + "/" + s["id"] + "/resume", token=x.op), 200).json
    check(q["enabled"] is True and q["next_run_at"] is not None, "resume %r" % q)
    d = expect_status(x.c.request("DELETE", S + "/" + s["id"], token=x.op), 200).json
    check(d["id"] == s["id"], "DELETE %r" % d)
    expect_problem(x.c.get(S + "/" + s["id"], x.viewer), 404)
    audit = expect_status(x.c.get(API + "/import-audit?entity=schedule&entity_id=" + s["id"], x.viewer), 200).json
    actions = sorted(a["action"] for a in audit["items"])
    check(actions == sorted(["schedule.created", "schedule.updated", "schedule.paused", "schedule.resumed",
                             "schedule.deleted"]), "audit actions %r" % actions)
    check(all(a["actor"] == x.op_name for a in audit["items"]), "audit actors %r" % [a["actor"] for a in audit["items"]])


@test("schedules: 422 names the field; 409 on a taken name; 404; 400; roles")
def t_schedule_errors(x):
    cases = [
        (dict(schedule_body(x), cron="*/15 24 * * *"), "cron"),
        (dict(schedule_body(x), timezone="Europe/Zurik"), "timezone"),
        (dict(schedule_body(x), misfire="later"), "misfire"),
        (dict(schedule_body(x), overlap="wait"), "overlap"),
        (dict(schedule_body(x), catch_up_max=1001), "catch_up_max"),
        (dict(schedule_body(x), colour="red"), "colour"),
        (dict(schedule_body(x), name=""), "name"),
        (dict(schedule_body(x), cron="2020-01-01T00:00:00Z"), "cron"),
        (dict(schedule_body(x), job={"source": {"format": "csv", "path": "u-{day}.csv"}, "target": {"table": "t"}}),
         "job.source.path"),
        (dict(schedule_body(x), job={"source": {"format": "csv", "path": "u.csv"}, "target": {}}), "job.target.table"),
        (dict(schedule_body(x), job={"source": {"format": "csv", "path": "u.csv"}, "target": {"table": "t"},
                                      "request_id": "k"}), "job.request_id"),
    ]
    for body, field in cases:
        expect_problem(x.c.request("POST", S, body, token=x.op), 422, field)
    body = schedule_body(x)
    s = create_schedule(x, body).json
    expect_problem(x.c.request("POST", S, dict(schedule_body(x), name=body["name"]), token=x.op), 409)
    other = create_schedule(x, schedule_body(x)).json
    expect_problem(x.c.request("PUT", S + "/" + other["id"], dict(schedule_body(x), name=body["name"]), token=x.op), 409)
    expect_problem(x.c.request("PUT", S + "/" + s["id"], dict(body, cron="bad"), token=x.op), 422, "cron")
    for method, suffix in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/pause"), ("POST", "/resume")):
        payload = schedule_body(x) if method == "PUT" else None
        expect_problem(x.c.request(method, S + "/" + BOGUS_ID + suffix, payload, token=x.op), 404)
    expect_problem(x.c.get(S + "/not-an-id", x.viewer), 400)
    expect_problem(x.c.get(S + "?enabled=maybe", x.viewer), 400)
    expect_problem(x.c.get(S + "?limit=501", x.viewer), 400)
    expect_problem(x.c.get(S + "?bogus=1", x.viewer), 400)
    # A viewer reads but cannot write; no token: 401.
    expect_problem(x.c.request("POST", S, schedule_body(x), token=x.viewer), 403)
    expect_problem(x.c.request("PUT", S + "/" + s["id"], body, token=x.viewer), 403)
    expect_problem(x.c.request("DELETE", S + "/" + s["id"], token=x.viewer), 403)
    expect_problem(x.c.request("POST", S + "/" + s["id"] + "/pause", token=x.viewer), 403)
    expect_problem(x.c.request("POST", S + "/" + s["id"] + "/resume", token=x.viewer), 403)
    expect_problem(x.c.get(S), 401)
    expect_status(x.c.get(S + "/" + s["id"], x.viewer), 200)
    for sid in (s["id"], other["id"]):
        expect_status(x.c.request("DELETE", S + "/" + sid, token=x.op), 200)


@test("schedules: preview lists the next fire times; 422 on a bad cron or zone")
def t_schedule_preview(x):
    r = expect_status(x.c.get(S + "/preview?cron=30+2+*+*+*&timezone=Europe/Zurich&count=3"
                                  "&after=2026-03-27T12:00:00Z", x.viewer), 200).json
    check(r == {"times": ["2026-03-28T01:30:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z"]},
          "preview %r" % r)
    r = expect_status(x.c.get(S + "/preview?cron=@daily", x.viewer), 200).json
    check(len(r["times"]) == 5, "default count: %r" % r)
    r = expect_status(x.c.get(S + "/preview?cron=2020-01-01T00:00:00Z", x.viewer), 200).json
    check(r == {"times": []}, "a passed one-off: %r" % r)
    expect_problem(x.c.get(S + "/preview?cron=*/15+24+*+*+*", x.viewer), 422, "cron")
    expect_problem(x.c.get(S + "/preview?cron=@daily&timezone=Mars/Olympus", x.viewer), 422, "timezone")
    expect_problem(x.c.get(S + "/preview", x.viewer), 422, "cron")
    expect_problem(x.c.get(S + "/preview?cron=@daily&count=101", x.viewer), 400)
    expect_problem(x.c.get(S + "/preview?cron=@daily"), 401)


@test("schedules: conflict warnings for overlapping fires on one table, none for other tables or shared locks")
def t_schedule_conflicts(x):
    users, other = x.table("users"), x.table("other")
    first = create_schedule(x, schedule_body(x, table=users, cron="0 2 * * *")).json
    check(first["warnings"] == [], "first schedule warned: %r" % first["warnings"])
    second = create_schedule(x, schedule_body(x, table=users, cron="10 2 * * *")).json
    w = second["warnings"]
    check(len(w) == 1, "overlap on %s not warned: %r" % (users, w))
    check(w[0]["schedule_id"] == first["id"] and w[0]["schedule_name"] == first["name"] and
          w[0]["resource"] == "table:" + users and TIME_RE.match(w[0]["first_overlap"]) and
          w[0]["first_overlap"][11:19] == "02:10:00" and first["name"] in w[0]["message"],
          "warning %r" % w[0])
    apart = create_schedule(x, schedule_body(x, table=other, cron="0 2 * * *")).json
    check(apart["warnings"] == [], "a different table warned: %r" % apart["warnings"])
    shared_body = schedule_body(x, table=other + "_b", cron="0 2 * * *")
    shared_body["job"]["resources"] = [{"name": "api:crm_" + x.tag, "mode": "shared"}]
    a = create_schedule(x, shared_body).json
    shared_body2 = schedule_body(x, table=other + "_c", cron="0 2 * * *")
    shared_body2["job"]["resources"] = [{"name": "api:crm_" + x.tag, "mode": "shared"}]
    b = create_schedule(x, shared_body2).json
    check(b["warnings"] == [], "shared + shared warned: %r" % b["warnings"])
    # Paused schedules do not count; a PUT is warned like a create.
    expect_status(x.c.request("POST", S + "/" + first["id"] + "/pause", token=x.op), 200)
    put = expect_status(x.c.request("PUT", S + "/" + second["id"],
                                    schedule_body(x, table=users, cron="5 2 * * *"), token=x.op), 200).json
    check(put["warnings"] == [], "a paused schedule warned: %r" % put["warnings"])
    expect_status(x.c.request("POST", S + "/" + first["id"] + "/resume", token=x.op), 200)
    put = expect_status(x.c.request("PUT", S + "/" + second["id"],
                                    schedule_body(x, table=users, cron="5 2 * * *"), token=x.op), 200).json
    check(len(put["warnings"]) == 1, "PUT not warned: %r" % put["warnings"])
    for s in (first, second, apart, a, b):
        expect_status(x.c.request("DELETE", S + "/" + s["id"], token=x.op), 200)
# -- scheduled imports: run now and the fire history

SCHED = API + "/scheduled-imports"


def insert_schedule(x, spec, next_run_at="2099-01-01T00:00:00.000Z", overlap="allow", cron="0 2 * * *",
                    timezone="UTC"):
    """A schedule row by SQL (creating schedules is not what these tests test); returns its id."""
    sid = str(uuid.uuid4())
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    sql(x.db, "INSERT INTO stg_scheduled_imports (id, name, cron, timezone, job_spec, misfire, overlap,"
              " enabled, next_run_at, created_at, updated_at) VALUES ('%s', '%s', '%s', '%s', '%s',"
              " 'run_once', '%s', TRUE, '%s', '%s', '%s')"
              % (sid, x.name("schedule"), cron, timezone, json.dumps(spec).replace("'", "''"), overlap,
                 next_run_at, now, now))
    return sid


def history(x, sid, query=""):
    return expect_status(x.c.get(SCHED + "/" + sid + "/history" + query, x.viewer), 200).json


@test("schedules: run now makes the job at once, recorded in the history")
def t_schedule_run(x):
    spec = x.spec(hold=True, path="drop-{date}.csv")
    sid = insert_schedule(x, spec, overlap="skip", timezone="Europe/Zurich")
    r = expect_status(x.c.request("POST", SCHED + "/" + sid + "/run", token=x.op), 202)
    job = r.json
    check(job["schedule_id"] == sid, "run-now job's schedule_id %r" % job.get("schedule_id"))
    check(job["status"] == "HELD", "run-now job is %s" % job["status"])
    check(re.fullmatch(r"drop-\d{8}\.csv", job["source"]["path"]), "path %r not expanded" % job["source"]["path"])
    check(r.header("Location") == Q + "/" + job["id"], "Location %r" % r.header("Location"))
    page = history(x, sid)
    check(len(page["items"]) == 1 and page["next_cursor"] is None, "history %r" % page)
    item = page["items"][0]
    check(item["job_id"] == job["id"] and item["outcome"] == "created", "history item %r" % item)
    check(TIME_RE.match(item["fire_time"]), "fire_time %r" % item["fire_time"])
    # overlap skip: the held job is unfinished, so a second run is refused and nothing recorded
    expect_problem(x.c.request("POST", SCHED + "/" + sid + "/run", token=x.op), 409)
    check(len(history(x, sid)["items"]) == 1, "a refused run was recorded")
    # the job's end shows in the history
    expect_status(x.c.request("DELETE", Q + "/" + job["id"], token=x.op), 200)
    check(history(x, sid)["items"][0]["outcome"] == "cancelled", "outcome after cancel")
    r = expect_status(x.c.request("POST", SCHED + "/" + sid + "/run", token=x.op), 202)
    audit = expect_status(x.c.get(API + "/import-audit?entity=job&entity_id=" + r.json["id"], x.viewer), 200)
    check(audit.json["items"] and audit.json["items"][-1]["actor"] == x.op_name, "run-now audit actor")


@test("schedules: run now answers 400, 403, 404")
def t_schedule_run_errors(x):
    expect_problem(x.c.request("POST", SCHED + "/" + BOGUS_ID + "/run", token=x.op), 404)
    expect_problem(x.c.request("POST", SCHED + "/not-an-id/run", token=x.op), 400)
    sid = insert_schedule(x, x.spec(hold=True))
    expect_problem(x.c.request("POST", SCHED + "/" + sid + "/run", token=x.viewer), 403)
    check(history(x, sid)["items"] == [], "a refused run was recorded")


@test("schedules: history pages newest first; bad arguments are 400, unknown 404")
def t_schedule_history(x):
    sid = insert_schedule(x, x.spec(hold=True), overlap="allow")
    made = []
    for _ in range(5):
        made.append(expect_status(x.c.request("POST", SCHED + "/" + sid + "/run", token=x.op), 202).json["id"])
    seen, cursor, pages = [], None, 0
    while True:
        page = history(x, sid, "?limit=2" + ("&cursor=" + cursor if cursor else ""))
        seen += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor or pages > 10:
            break
    check(pages == 3, "5 fires at limit=2 took %d pages" % pages)
    check([i["job_id"] for i in seen] == made[::-1], "history is not newest first: %r" % seen)
    times = [i["fire_time"] for i in seen]
    check(times == sorted(times, reverse=True), "fire times not descending: %r" % times)
    expect_problem(x.c.get(SCHED + "/" + BOGUS_ID + "/history", x.viewer), 404)
    expect_problem(x.c.get(SCHED + "/nope/history", x.viewer), 400)
    for bad in ("?limit=0", "?limit=501", "?limit=x", "?cursor=abc", "?since=1"):
        expect_problem(x.c.get(SCHED + "/" + sid + "/history" + bad, x.viewer), 400)
    other = expect_status(x.c.get(Q + "?limit=2", x.viewer), 200).json["next_cursor"]
    if other:  # a cursor of another kind is refused
        expect_problem(x.c.get(SCHED + "/" + sid + "/history?cursor=" + other, x.viewer), 400)
    # a cursor of another schedule's history is refused, not read as a position in this one
    sid2 = insert_schedule(x, x.spec(hold=True), overlap="allow")
    for _ in range(2):
        expect_status(x.c.request("POST", SCHED + "/" + sid2 + "/run", token=x.op), 202)
    theirs = history(x, sid2, "?limit=1")["next_cursor"]
    check(theirs is not None, "two fires at limit=1 gave no cursor")
    expect_problem(x.c.get(SCHED + "/" + sid + "/history?cursor=" + theirs, x.viewer), 400)


@test("schedules: the server's scheduler fires a due schedule once")
def t_schedule_fires(x):
    due = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 1))
    sid = insert_schedule(x, x.spec(hold=True, path="tick-{datetime}.csv"), next_run_at=due,
                          cron="0 0 1 1 *")
    end = time.time() + DEADLINE_S
    items = []
    while time.time() < end:
        items = history(x, sid)["items"]
        if items:
            break
        time.sleep(0.05)
    check(len(items) == 1 and items[0]["outcome"] == "created", "history after the fire: %r" % items)
    check(items[0]["fire_time"] == due, "fire_time %r, expected %r" % (items[0]["fire_time"], due))
    job = x.job(items[0]["job_id"])
    check(job["schedule_id"] == sid, "the fired job's schedule_id %r" % job.get("schedule_id"))
    audit = expect_status(x.c.get(API + "/import-audit?entity=job&entity_id=" + job["id"], x.viewer), 200)
    check(audit.json["items"][-1]["actor"] == "scheduler", "fired job's audit actor %r" % audit.json["items"][-1]["actor"])
    fires = Scrape(x.c, x.viewer).value("importq_schedule_fires_total", outcome="created")
    check(fires >= 1, "importq_schedule_fires_total{outcome=created} is %r after a fire" % fires)


# -- resources

@test("resources: a RUNNING job's lock is listed; cancel stops it")
def t_resources_running(x):
    r = expect_status(x.c.get(API + "/import-resources", x.viewer), 200)
    check(isinstance(r.json.get("locks"), list) and isinstance(r.json.get("waiting"), list), "resources shape %s" % r.describe())
    spec = x.spec(path="big.csv", table=x.table("big"))
    spec["target"]["mode"] = "insert"
    del spec["target"]["key"]
    spec["target"]["columns"] = [{"name": "team_id", "type": "bigint", "required": True}, {"name": "name", "type": "text"}]
    job = x.submit(spec)
    end = time.time() + DEADLINE_S
    seen = None
    while time.time() < end:
        got = x.job(job["id"])
        if got["status"] == "RUNNING" and got["locks"]:
            seen, seen_at = got, time.time()
            break
        check(got["status"] in ("QUEUED", "RUNNING"), "big job ended %s before it was seen running: %r" % (got["status"], got["error"]))
        time.sleep(0.02)
    check(seen, "the big job was never seen RUNNING with its lock")
    lock = seen["locks"][0]
    check(lock["name"] == "table:" + spec["target"]["table"] and lock["mode"] == "exclusive" and lock["job_id"] == job["id"],
          "job lock %r" % lock)
    listed = expect_status(x.c.get(API + "/import-resources", x.viewer), 200).json
    ids = [l["id"] for l in listed["locks"]]
    if x.job(job["id"])["status"] == "RUNNING":
        check(lock["id"] in ids, "the running job's lock %s is not in /import-resources %r" % (lock["id"], ids))
    for l in listed["locks"]:
        for key in ("id", "name", "mode", "job_id", "node", "acquired_at", "expires_at"):
            check(key in l, "lock has no %r: %r" % (key, l))
    # CONTRACT §3: DELETE of a RUNNING job answers at once, RUNNING with
    # cancel_requested, and the job stops within 2 s with nothing landed.
    # (The import takes seconds: finishing in the few ms since it was seen
    # running is not a plausible excuse for a 409.)
    t0 = time.time()
    r = x.c.request("DELETE", Q + "/" + job["id"], token=x.op)
    took = time.time() - t0
    check(r.status == 200, "DELETE of a RUNNING job (seen running %.2f s earlier) answered after %.2f s: %s" % (
        t0 - seen_at, took, r.describe()))
    check(took < 1.0, "DELETE of a running job took %.2f s to answer" % took)
    check(r.json["status"] == "RUNNING" and r.json["cancel_requested"] is True,
          "DELETE of a running job answered %s with cancel_requested %r" % (r.json["status"], r.json["cancel_requested"]))
    done = x.wait_status(job["id"], ("CANCELLED", "COMPLETED", "FAILED"))
    check(done["status"] == "CANCELLED", "the cancelled running job ended %s" % done["status"])
    check(time.time() - t0 < 3.0, "the cancel took %.1f s (contract: within 2 s)" % (time.time() - t0))
    n = table_rows(x.db, spec["target"]["table"])
    check(n == 0, "a cancelled job landed %d rows" % n)


def iso(ts):
    """RFC 3339 UTC text of a Unix time in seconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".%03dZ" % int((ts % 1) * 1000)


def lock_wait_scenario(x):
    """A big job locks a new table, a small one queues behind it, the big one
    is cancelled. Returns (table, first, second, the second ended), or None
    when the big one completed before the cancel reached it (the documented
    cancel-versus-completion race: on SQLite the small job's submission
    waits for the write lock while the big one promotes, so a loaded
    machine can hold the cancel back past the commit)."""
    table = x.table("perf")
    big = x.spec(path="big.csv", table=table)
    big["target"]["mode"] = "insert"
    del big["target"]["key"]
    big["target"]["columns"] = [{"name": "team_id", "type": "bigint", "required": True}, {"name": "name", "type": "text"}]
    first = x.submit(big)
    end = time.time() + DEADLINE_S
    while True:
        got = x.job(first["id"])
        if got["status"] == "RUNNING":
            break
        check(time.time() < end and got["status"] == "QUEUED",
              "the big job was never seen RUNNING: %s %r" % (got["status"], got["error"]))
        time.sleep(0.02)
    small = dict(big, name=x.name("waiter"))
    small["source"] = {"format": "csv", "path": "teams.csv"}
    second = x.submit(small)  # waits for table:<table> until the first lets go
    r = x.c.request("DELETE", Q + "/" + first["id"], token=x.op)
    check(r.status in (200, 409), "DELETE of the big job: %s" % r.describe())
    ended = x.wait_status(first["id"], ("CANCELLED", "COMPLETED"))
    done = x.wait_status(second["id"], ("COMPLETED", "FAILED"))
    check(done["status"] == "COMPLETED", "the waiting job ended %s: %r" % (done["status"], done["error"]))
    if ended["status"] == "COMPLETED":
        return None
    return table, first, second, done


@test("performance and resource stats: a job that waited for another's lock, on whom, and its table's aggregates")
def t_perf_and_resource_stats(x):
    for _ in range(3):
        scenario = lock_wait_scenario(x)
        if scenario:
            break
    check(scenario, "the big job completed before its cancel three times")
    table, first, second, done = scenario
    waits = {p["phase"]: p["duration_ms"] for p in done["phases"] if p["phase"] in ("queued", "lock_wait")}
    check(waits.get("lock_wait", 0) > 0 and waits["queued"] >= waits["lock_wait"],
          "the waiting job's phases do not show its lock wait: %r" % done["phases"])

    r = expect_status(x.c.get(API + "/import-resources/stats", x.viewer), 200).json
    check(TIME_RE.match(r["since"]) and TIME_RE.match(r["until"]) and r["truncated"] is False, "stats window %r" % r)
    mine = [i for i in r["items"] if i["name"] == "table:" + table]
    check(len(mine) == 1, "table:%s is not in the resource stats: %r" % (table, [i["name"] for i in r["items"]]))
    item = mine[0]
    check(item["locks"] == 2 and item["waits"] == 1 and item["wait_p95_ms"] > 0 and item["hold_total_ms"] >= 0,
          "resource stats %r" % item)
    longest = item["longest_waits"][0]
    check(longest["job_id"] == second["id"] and longest["blocked_by"] == first["id"]
          and longest["waited_ms"] == item["wait_p95_ms"], "the longest wait %r (first %s)" % (longest, first["id"]))

    r = expect_status(x.c.get(API + "/import-performance?table=" + table, x.viewer), 200).json
    check(r["attempts"] == 2 and len(r["items"]) == 1, "performance of %s: %r" % (table, r))
    t = r["items"][0]
    check(t["table"] == table and t["count"] == 2 and t["completed"] == 1 and t["cancelled"] == 1
          and t["rows_read"] >= 3 and isinstance(t["rows_per_s"], (int, float)), "table aggregates %r" % t)
    check(t["p50_ms"] <= t["p95_ms"] <= t["p99_ms"], "percentiles out of order %r" % t)
    check(set(t["phases"]) == TIMED_PHASES and t["phases"]["lock_wait"]["p99_ms"] == waits["lock_wait"],
          "per-phase aggregates %r" % t["phases"])
    everything = expect_status(x.c.get(API + "/import-performance?limit=500", x.viewer), 200).json
    check(table in [i["table"] for i in everything["items"]], "the unfiltered report lacks %s" % table)
    later, latest = iso(time.time() + 3600), iso(time.time() + 7200)
    r = expect_status(x.c.get(API + "/import-performance?table=%s&since=%s&until=%s" % (table, later, latest),
                              x.viewer), 200).json
    check(r["items"] == [] and r["attempts"] == 0, "a window in the future has attempts: %r" % r)


@test("performance, resource stats, recommendations: bad filters are 422 naming the field, no token 401")
def t_perf_filters(x):
    now = time.time()
    for path in (API + "/import-performance", API + "/import-resources/stats",
                 API + "/import-performance/recommendations"):
        expect_problem(x.c.get(path + "?since=yesterday", x.viewer), 422, "since")
        expect_problem(x.c.get(path + "?until=2026-13-01T00:00:00Z", x.viewer), 422, "until")
        expect_problem(x.c.get(path + "?since=%s&until=%s" % (iso(now), iso(now - 60)), x.viewer), 422, "since")
        expect_problem(x.c.get(path + "?since=%s&until=%s" % (iso(now - 40 * 86400), iso(now)), x.viewer), 422, "since")
        expect_problem(x.c.get(path + "?bogus=1", x.viewer), 400)
        expect_problem(x.c.get(path), 401)
    for path in (API + "/import-performance", API + "/import-resources/stats"):
        expect_problem(x.c.get(path + "?limit=0", x.viewer), 422, "limit")
        expect_problem(x.c.get(path + "?limit=501", x.viewer), 422, "limit")
    expect_problem(x.c.get(API + "/import-performance?table=" + "t" * 200, x.viewer), 422, "table")
    expect_problem(x.c.get(API + "/import-resources/stats?table=x", x.viewer), 400)


@test("recommendations: a table rejecting half its rows is named, with evidence")
def t_recommendations(x):
    if x.completed_id is None:
        t_completes_csv(x)
    table = x.table("rejecty")
    at, ready = iso(time.time() - 1800), iso(time.time() - 1801)
    rows = [("read", at, 5, 1000), ("validate", at, 0, 500), ("queued", ready, 1000, 0), ("lock_wait", ready, 0, 0)]
    sql(x.db, "INSERT INTO stg_import_performance (job_id, attempt, target_table, phase, started_at,"
              " duration_ms, rows, bytes, outcome) VALUES " + ", ".join(
                  "('%s', 99, '%s', '%s', '%s', %d, %d, 0, 'COMPLETED')" % (x.completed_id, table, p, t, d, n)
                  for p, t, d, n in rows))
    r = expect_status(x.c.get(API + "/import-performance/recommendations", x.viewer), 200).json
    check(isinstance(r["items"], list) and TIME_RE.match(r["since"]), "recommendations %r" % r)
    for item in r["items"]:
        check(set(item) == {"kind", "message", "evidence"} and isinstance(item["evidence"], dict)
              and item["message"], "a malformed recommendation %r" % item)
    mine = [i for i in r["items"] if i["kind"] == "high_reject_rate" and i["evidence"].get("table") == table]
    check(len(mine) == 1, "no high_reject_rate for %s in %r" % (table, r["items"]))
    check(mine[0]["evidence"]["rows_rejected"] == 500 and mine[0]["evidence"]["rows_read"] == 1000
          and table in mine[0]["message"], "evidence %r" % mine[0])
    # Outside the window it is not there.
    r = expect_status(x.c.get(API + "/import-performance/recommendations?since=%s" % iso(time.time() - 60),
                              x.viewer), 200).json
    check(not [i for i in r["items"] if i["evidence"].get("table") == table], "an old reject rate counted: %r" % r)


@test("resources: admin force-release of an unknown lock is 404")
def t_release_bogus(x):
    expect_problem(x.c.request("DELETE", API + "/import-resources/" + BOGUS_ID, token=x.admin), 404)
    expect_problem(x.c.request("DELETE", API + "/import-resources/not-a-lock", token=x.admin), 400)


# -- audit

@test("audit: job.create with the token name, filters, paging")
def t_audit(x):
    for _ in range(4):
        job = x.submit(x.spec(hold=True))
    r = expect_status(x.c.get(API + "/import-audit?entity=job&entity_id=" + job["id"], x.viewer), 200)
    rows = r.json["items"]
    check(rows and rows[-1]["action"] == "job.create", "no job.create row for %s: %r" % (job["id"], rows))
    row = rows[-1]
    check(row["actor"] == x.op_name, "audit actor %r, expected the token name %r" % (row["actor"], x.op_name))
    for key in ("id", "at", "actor", "action", "entity", "entity_id", "before", "after", "prev_hash", "hash"):
        check(key in row, "audit row has no %r" % key)
    items = expect_status(x.c.get(API + "/import-audit?action=job.create&actor=" + x.op_name + "&limit=500", x.viewer), 200).json["items"]
    check(items and all(i["action"] == "job.create" and i["actor"] == x.op_name for i in items),
          "action/actor filter returned other rows")
    seen, cursor, pages = [], None, 0
    while True:
        q = API + "/import-audit?actor=%s&limit=3%s" % (x.op_name, "&cursor=" + cursor if cursor else "")
        page = expect_status(x.c.get(q, x.viewer), 200).json
        seen += [i["id"] for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor or pages > 500:
            break
    check(len(seen) == len(set(seen)), "audit pages repeat rows")
    check(seen == sorted(seen, reverse=True), "audit pages are not newest first")
    everything = expect_status(x.c.get(API + "/import-audit?actor=%s&limit=500" % x.op_name, x.viewer), 200).json["items"]
    check(len(everything) >= 500 or seen == [i["id"] for i in everything], "paging found %d rows, one page %d" % (len(seen), len(everything)))
    check(pages > 1, "expected several audit pages at limit=3")
    none = expect_status(x.c.get(API + "/import-audit?since=2099-01-01T00:00:00Z", x.viewer), 200).json["items"]
    check(none == [], "since=2099 returned %d rows" % len(none))
    old = expect_status(x.c.get(API + "/import-audit?until=2000-01-01T00:00:00Z", x.viewer), 200).json["items"]
    check(old == [], "until=2000 returned %d rows" % len(old))
    expect_problem(x.c.get(API + "/import-audit?since=yesterday", x.viewer), 400, "since")


# -- 400

@test("400: malformed JSON")
def t_400_malformed(x):
    expect_problem(x.c.request("POST", Q, '{"source": ', token=x.op), 400)


@test("400: a body that is not an object")
def t_400_not_object(x):
    expect_problem(x.c.request("POST", Q, "[1, 2]", token=x.op), 400)
    expect_problem(x.c.request("POST", Q, "", token=x.op, content_type="application/json"), 400)


@test("400: bad filter values")
def t_400_filters(x):
    for query, field in (("status=BOGUS", "status"), ("status=HELD,,NOPE", "status"), ("priority_min=0", "priority_min"),
                         ("priority_max=11", "priority_max"), ("created_after=yesterday", "created_after"),
                         ("created_before=2026-13-45", "created_before"), ("limit=0", "limit"), ("limit=501", "limit"),
                         ("limit=abc", "limit"), ("orchestration_id=xyz", "orchestration_id")):
        expect_problem(x.c.get(Q + "?" + query, x.viewer), 400, field)


@test("400: an unknown query parameter")
def t_400_unknown_param(x):
    expect_problem(x.c.get(Q + "?colour=red", x.viewer), 400, "colour")
    expect_problem(x.c.get(API + "/import-audit?frob=1", x.viewer), 400, "frob")


@test("400: a non-UUID id")
def t_400_bad_id(x):
    for method, path in (("GET", Q + "/not-a-uuid"), ("DELETE", Q + "/123"), ("POST", Q + "/xyz/execute"),
                         ("GET", Q + "/xyz/rejects")):
        expect_problem(x.c.request(method, path, token=x.op), 400)


@test("400: a tampered cursor")
def t_400_cursor(x):
    for _ in range(2):
        x.submit(x.spec(hold=True))
    page = expect_status(x.c.get(Q + "?limit=1", x.viewer), 200).json
    cursor = page["next_cursor"]
    check(cursor, "no next_cursor to tamper with")
    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    expect_problem(x.c.get(Q + "?limit=1&cursor=" + flipped, x.viewer), 400, "cursor")
    forged = base64.urlsafe_b64encode(b"job:" + BOGUS_ID.encode()).decode().rstrip("=")
    expect_problem(x.c.get(Q + "?cursor=" + forged, x.viewer), 400, "cursor")
    expect_problem(x.c.get(Q + "?cursor=garbage!", x.viewer), 400)
    audit = expect_status(x.c.get(API + "/import-audit?limit=1", x.viewer), 200).json["next_cursor"]
    expect_problem(x.c.get(Q + "?cursor=" + audit, x.viewer), 400)  # another endpoint's cursor


@test("400: a path with .. or %2e%2e")
def t_400_dotdot(x):
    expect_problem(x.c.get(Q + "/../import-audit/verify", x.admin), 400)
    expect_problem(x.c.get(Q + "/%2e%2e/import-audit/verify", x.admin), 400)
    expect_problem(x.c.get(Q + "/%2E%2E", x.admin), 400)
    expect_problem(x.c.get(API + "/./import-queue", x.viewer), 400)


# -- 401 / 403

@test("401: missing, invalid and malformed tokens, with WWW-Authenticate")
def t_401(x):
    for token, headers in ((None, None), ("iq_wrong", None), (None, {"Authorization": "Basic dXNlcjpwYXNz"}),
                           (None, {"Authorization": "Bearer"}), (None, {"Authorization": "Bearer " + "a" * 5000})):
        r = x.c.request("GET", Q, token=token, headers=headers)
        expect_problem(r, 401)
        check((r.header("WWW-Authenticate") or "").startswith("Bearer"), "401 without WWW-Authenticate: Bearer: %r" % r.header("WWW-Authenticate"))
    expect_problem(x.c.request("POST", Q, x.spec(), token="iq_wrong"), 401)


@test("auth: a token created a moment ago works at once (the cache reloads on an unknown token)")
def t_token_fresh(x):
    expect_status(x.c.get(Q + "?limit=1", x.viewer), 200)  # the cache is loaded and fresh
    for i in range(5):
        token = x.server.token("fresh-%d-%s" % (i, uuid.uuid4().hex[:12]), "viewer")
        expect_status(x.c.get(Q + "?limit=1", token), 200)
    expect_problem(x.c.get(Q + "?limit=1", "iq_" + "x" * 43), 401)


@test("401: a revoked token stops working within 2 s")
def t_401_revoked(x):
    expect_status(x.c.get(Q + "?limit=1", x.revokable), 200)
    r = x.server.run_cli("token", "revoke", x.revokable_name)
    check(r.returncode == 0, "token revoke failed: %s%s" % (r.stdout, r.stderr))
    t0 = time.time()
    while time.time() - t0 < 2.5:
        res = x.c.get(Q + "?limit=1", x.revokable)
        if res.status == 401:
            expect_problem(res, 401)
            return
        expect_status(res, 200)
        time.sleep(0.1)
    raise TestFailure("a revoked token still works after %.1f s" % (time.time() - t0))


@test("403: viewer cannot change, operator cannot administer")
def t_403(x):
    job = x.submit(x.spec(hold=True))
    for method, path, token, body in (
            ("DELETE", Q + "/" + job["id"], x.viewer, None),
            ("POST", Q, x.viewer, x.spec()),
            ("PUT", Q + "/" + job["id"], x.viewer, {"priority": 1}),
            ("POST", Q + "/" + job["id"] + "/execute", x.viewer, None),
            ("POST", API + "/import-orchestrations", x.viewer, {"jobs": []}),
            ("GET", API + "/import-audit/verify", x.op, None),
            ("DELETE", API + "/import-resources/" + BOGUS_ID, x.op, None)):
        expect_problem(x.c.request(method, path, body, token=token), 403)
    expect_problem(x.c.request("POST", API + "/uploads", b"a,b\n", token=x.viewer, content_type="text/csv"), 403)
    check(x.job(job["id"])["status"] == "HELD", "a forbidden DELETE changed the job")


# -- 404 / 405

@test("404: unknown path and unknown ids")
def t_404(x):
    expect_problem(x.c.get(API + "/nope", x.viewer), 404)
    expect_problem(x.c.get("/nope"), 404)
    expect_problem(x.c.get(Q + "/" + BOGUS_ID + "/frob", x.viewer), 404)
    for method, path in (("GET", Q + "/" + BOGUS_ID), ("DELETE", Q + "/" + BOGUS_ID),
                         ("POST", Q + "/" + BOGUS_ID + "/execute"), ("GET", Q + "/" + BOGUS_ID + "/rejects")):
        expect_problem(x.c.request(method, path, token=x.op), 404)


@test("405: a wrong method, with Allow")
def t_405(x):
    for method, path, allowed in (("PATCH", Q, {"GET", "POST"}), ("DELETE", "/healthz", {"GET"}),
                                  ("POST", Q + "/" + BOGUS_ID, {"GET", "PUT", "DELETE"}),
                                  ("GET", API + "/uploads", {"POST"}), ("PUT", API + "/import-audit/verify", {"GET"})):
        r = x.c.request(method, path, token=x.admin)
        expect_problem(r, 405)
        got = {m.strip() for m in (r.header("Allow") or "").split(",") if m.strip()}
        check(got == allowed, "%s %s: Allow %r, expected %r" % (method, path, r.header("Allow"), sorted(allowed)))


# -- 409 / 413 / 415 / 422 / 429

@test("409: an unknown dependency")
def t_409_dependency(x):
    expect_problem(x.c.request("POST", Q, x.spec(depends_on=[BOGUS_ID]), token=x.op), 409)


@test("413: a 10 MB JSON body over the 1 MiB limit")
def t_413_body(x):
    body = b'{"name": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    head = ("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\nConnection: close\r\n\r\n" % (Q, x.op, len(body))).encode()
    status, raw = raw_exchange(x.c.port, head, body)
    check(status == 413, "10 MB body: %r" % raw[:300])
    check(b"application/problem+json" in raw.split(b"\r\n\r\n")[0], "413 is not problem+json")


@test("413: a chunked JSON body over the limit")
def t_413_chunked(x):
    body = b'{"name": "' + b"x" * (1536 * 1024) + b'"}'
    head = ("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" % (Q, x.op)).encode()
    status, raw = raw_exchange(x.c.port, head + chunked(body))
    check(status == 413, "chunked 1.5 MiB body: %r" % raw[:300])


@test("413: an upload over --max-upload")
def t_413_upload(x):
    data = b"x" * (300 * 1024)
    head = ("POST %s/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: text/csv\r\n"
            "Content-Length: %d\r\nConnection: close\r\n\r\n" % (API, x.op, len(data))).encode()
    status, raw = raw_exchange(x.c.port, head, data)
    check(status == 413, "300 KiB upload over 256 KiB: %r" % raw[:300])
    head = ("POST %s/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n" % (API, x.op)).encode()
    status, raw = raw_exchange(x.c.port, head + chunked(data))
    check(status == 413, "chunked 300 KiB upload: %r" % raw[:300])
    left = [f for f in os.listdir(x.server.spool) if f.endswith(".part")]
    check(left == [], "refused uploads left spool files: %r" % left)


@test("415: a wrong Content-Type")
def t_415(x):
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx"):
        expect_problem(x.c.request("POST", Q, json.dumps(x.spec()), token=x.op, content_type=ctype), 415)
    ok = x.c.request("POST", Q, json.dumps(x.spec(hold=True)), token=x.op, content_type="application/json; charset=utf-8")
    expect_status(ok, 201)


@test("422: a spec with several mistakes lists every one")
def t_422_many(x):
    spec = {"priority": 0, "max_attempts": 0, "source": {"format": "xml", "path": "teams.csv"},
            "target": {"table": "1bad", "mode": "merge"}}
    doc = expect_problem(x.c.request("POST", Q, spec, token=x.op), 422)
    fields = sorted(e["field"] for e in doc["errors"])
    check(fields == sorted(["priority", "max_attempts", "source.format", "target.table", "target.mode"]),
          "5 mistakes, errors name %r" % fields)


@test("422: an unknown field")
def t_422_unknown(x):
    expect_problem(x.c.request("POST", Q, dict(x.spec(), colour="red"), token=x.op), 422, "colour")
    spec = x.spec()
    spec["target"]["colour"] = "red"
    expect_problem(x.c.request("POST", Q, spec, token=x.op), 422, "target.colour")


@test("422: wrong types")
def t_422_types(x):
    spec = dict(x.spec(), priority="high", hold="yes", depends_on="abc", name=5)
    doc = expect_problem(x.c.request("POST", Q, spec, token=x.op), 422)
    fields = sorted(e["field"] for e in doc["errors"])
    check(fields == ["depends_on", "hold", "name", "priority"], "4 wrong types, errors name %r" % fields)
    expect_problem(x.c.request("POST", Q, dict(x.spec(), source="teams.csv"), token=x.op), 422, "source")
    expect_problem(x.c.request("POST", Q, {"source": {"format": "csv", "path": "a.csv"}}, token=x.op), 422, "target")


@test("422: huge numbers")
def t_422_huge(x):
    spec = dict(x.spec(), priority=9223372036854775807, max_attempts=-9223372036854775808,
                timeout_s=1e300)
    doc = expect_problem(x.c.request("POST", Q, spec, token=x.op), 422)
    fields = sorted(e["field"] for e in doc["errors"])
    check(fields == ["max_attempts", "priority", "timeout_s"], "errors name %r" % fields)
    expect_problem(x.c.request("POST", Q, dict(x.spec(), timeout_s=9223372036854775807), token=x.op), 422, "timeout_s")
    r = x.c.request("POST", Q, json.dumps(x.spec()).replace('"max_attempts": 1', '"max_attempts": 99999999999999999999999'),
                    token=x.op)
    check(r.status in (400, 422), "an integer beyond int64: %s" % r.describe())
    expect_problem(r, r.status)


@test("429 + Retry-After when the queue is full")
def t_429(x):
    aux = x.aux_client
    for i in range(2):
        expect_status(aux.request("POST", Q, x.spec(hold=True), token=x.aux_op), 201)
    r = aux.request("POST", Q, x.spec(hold=True), token=x.aux_op)
    expect_problem(r, 429)
    check(re.fullmatch(r"\d+", r.header("Retry-After") or ""), "Retry-After %r is not seconds" % r.header("Retry-After"))
    body = {"name": "full", "jobs": [dict(x.spec(), key="a")]}
    r = aux.request("POST", API + "/import-orchestrations", body, token=x.aux_op)
    expect_problem(r, 429)
    check(r.header("Retry-After"), "orchestration 429 without Retry-After")
    status = expect_status(aux.get(Q + "/status", x.aux_op), 200).json
    check(status["queue_capacity"] == 2 and status["held"] == 2, "aux status %r" % status)


# -- hostile bytes

@test("CR/LF injection in headers: 4xx, closed, or no injected header")
def t_crlf(x):
    cases = [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc\rSet-Cookie: evil=1\r\nConnection: close\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc\nSet-Cookie: evil=1\r\nConnection: close\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc\r\n Set-Cookie: evil=1\r\nConnection: close\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\x00b\r\nConnection: close\r\n\r\n",
        b"GET /healthz\r\nSet-Cookie: evil=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\nConnection: close\r\n\r\n",
        b"GET " + Q.encode() + b"/%0d%0aSet-Cookie:%20evil=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET " + Q.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + x.viewer.encode() +
        b"\rSet-Cookie: evil=1\r\nConnection: close\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k\r\n\r\nSet-Cookie: evil=1\r\n\r\n",
    ]
    for raw_request in cases:
        status, raw = raw_exchange(x.c.port, raw_request)
        what = raw_request[:70]
        check(status is None or status < 500, "%r: answered %r" % (what, raw[:200]))
        if status is not None and status < 400:
            headers = [h.lower() for h in raw_headers(raw)]
            check(not any(h.startswith("set-cookie") for h in headers), "%r: a header was injected: %r" % (what, headers))
            rid = [h for h in raw_headers(raw) if h.lower().startswith("x-request-id:")]
            check(rid and re.fullmatch(r"x-request-id: [\x21-\x7e]{1,64}", rid[0], re.I), "%r: X-Request-Id echoed as %r" % (what, rid))
        check(x.server.alive(), "the server died on %r" % what)


@test("a long X-Request-Id is replaced, a sane one echoed")
def t_request_id_header(x):
    r = x.c.get("/healthz", headers={"X-Request-Id": "trace-" + x.tag})
    check(r.header("X-Request-Id") == "trace-" + x.tag, "X-Request-Id not echoed: %r" % r.header("X-Request-Id"))
    r = x.c.get("/healthz", headers={"X-Request-Id": "y" * 500})
    check(r.header("X-Request-Id") and len(r.header("X-Request-Id")) <= 64, "a 500-byte X-Request-Id was echoed")


# -- concurrency

@test("concurrency: 8 threads x 50 submissions = 400 jobs, no 5xx")
def t_concurrency(x):
    tag = "conc" + x.tag
    results, errors = [], []

    def worker(t):
        for i in range(50):
            spec = dict(x.spec(hold=True, table="conc_%s_%d" % (x.tag, t)), name="%s %d-%d" % (tag, t, i),
                        request_id="%s-%d-%d" % (tag, t, i))
            try:
                r = x.c.request("POST", Q, spec, token=x.op)
                results.append(r.status)
                if r.status != 201:
                    errors.append(r.describe())
            except Exception as e:  # a dropped connection is a failure too
                errors.append("thread %d job %d: %r" % (t, i, e))
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    check(not errors, "%d of 400 submissions failed, e.g. %s" % (len(errors), errors[:3]))
    items, _ = x.list_all("q=%s&fields=request_id" % tag, limit=500)
    ids = [j["id"] for j in items]
    check(len(ids) == 400 and len(set(ids)) == 400, "%d jobs (%d distinct), expected exactly 400" % (len(ids), len(set(ids))))
    check(len({j["request_id"] for j in items}) == 400, "request_ids are not all distinct")


# -- alerts (GET /import-monitoring/alerts, POST .../ack, the webhook)

ALERTS = API + "/import-monitoring/alerts"


class WebhookListener:
    """A local endpoint for alert-webhook: answers 500 to the first POST, 200 to
    the rest, and keeps every (status, content type, body) it answered."""

    def __init__(self):
        import http.server
        listener = self
        self.lock = threading.Lock()
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with listener.lock:
                    status = 500 if not listener.requests else 200
                    listener.requests.append((status, self.headers.get("Content-Type"), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def seen(self):
        with self.lock:
            return list(self.requests)


def failed_job_alert(x):
    """A job that fails (its file is missing) and the job_failed alert it opens."""
    job = x.submit(x.spec(path="missing_%s.csv" % x.tag))
    x.wait_status(job["id"], "FAILED")
    end = time.time() + DEADLINE_S
    while time.time() < end:
        items = expect_status(x.c.get(ALERTS + "?state=open&limit=500", x.viewer), 200).json["items"]
        mine = [a for a in items if a["rule"] == "job_failed" and a["entity_id"] == job["id"]]
        if mine:
            return job, mine[0]
        time.sleep(0.05)
    raise TestFailure("no job_failed alert for job %s" % job["id"])


@test("alerts: a failed job opens one, listed with every field")
def t_alerts_open(x):
    job, alert = failed_job_alert(x)
    check(isinstance(alert["id"], int) and alert["id"] > 0, "id %r" % alert)
    for key, want in (("severity", "critical"), ("state", "open"), ("entity", "job"), ("acked_at", None),
                      ("acked_by", None), ("resolved_at", None)):
        check(alert[key] == want, "%s is %r, expected %r: %r" % (key, alert[key], want, alert))
    check(TIME_RE.match(alert["created_at"]) and alert["node"], "created_at/node: %r" % alert)
    check(job["id"] in alert["message"] and alert["detail"].get("table") == job["target"]["table"],
          "message/detail: %r" % alert)
    r = expect_status(x.c.get(ALERTS + "?state=resolved,acked", x.viewer), 200)
    check(all(a["state"] in ("resolved", "acked") for a in r.json["items"]), "state filter: %s" % r.describe())
    items = expect_status(x.c.get(ALERTS + "?limit=500", x.viewer), 200).json["items"]
    check(len([a for a in items if a["entity_id"] == job["id"] and a["rule"] == "job_failed"]) == 1,
          "job_failed opened more than once for %s" % job["id"])


@test("alerts: acknowledge (operator, audited, once), resolve, 409 after")
def t_alerts_ack(x):
    job, alert = failed_job_alert(x)
    path = "%s/%d/ack" % (ALERTS, alert["id"])
    expect_problem(x.c.request("POST", path, token=x.viewer), 403)
    expect_problem(x.c.request("POST", path), 401)
    r = expect_status(x.c.request("POST", path, token=x.op), 200)
    check(r.json["state"] == "acked" and r.json["acked_by"] == x.op_name and TIME_RE.match(r.json["acked_at"]),
          "ack: %s" % r.describe())
    again = expect_status(x.c.request("POST", path, token=x.op), 200).json
    check(again["acked_at"] == r.json["acked_at"], "a second ack changed it: %r" % again)
    audit = expect_status(x.c.get(API + "/import-audit?action=alert.acked&entity_id=%d" % alert["id"], x.viewer), 200)
    rows = audit.json["items"]
    check(len(rows) == 1 and rows[0]["actor"] == x.op_name and rows[0]["entity"] == "alert"
          and rows[0]["before"]["state"] == "open" and rows[0]["after"]["state"] == "acked",
          "audit rows: %s" % audit.describe())
    # the condition clears (the job is no longer FAILED): the acknowledged alert resolves itself
    sql(x.db, "UPDATE stg_import_queue SET status = 'COMPLETED', error = NULL WHERE id = '%s'" % job["id"])
    end = time.time() + DEADLINE_S
    state = None
    while time.time() < end and state != "resolved":
        items = expect_status(x.c.get(ALERTS + "?state=resolved&limit=500", x.viewer), 200).json["items"]
        state = "resolved" if any(a["id"] == alert["id"] for a in items) else None
        time.sleep(0.05)
    check(state == "resolved", "alert %d did not resolve" % alert["id"])
    expect_problem(x.c.request("POST", path, token=x.op), 409)


@test("alerts: bad ids, filters, limits and cursors; keyset pages")
def t_alerts_errors(x):
    expect_problem(x.c.request("POST", ALERTS + "/abc/ack", token=x.op), 400)
    expect_problem(x.c.request("POST", ALERTS + "/0/ack", token=x.op), 400)
    expect_problem(x.c.request("POST", ALERTS + "/999999999/ack", token=x.op), 404)
    expect_problem(x.c.get(ALERTS + "?state=firing", x.viewer), 400, "state")
    for query in ("limit=0", "limit=501", "limit=x", "cursor=bogus", "frob=1"):
        expect_problem(x.c.get(ALERTS + "?" + query, x.viewer), 400)
    expect_problem(x.c.get(ALERTS), 401)
    failed_job_alert(x)
    failed_job_alert(x)
    first = expect_status(x.c.get(ALERTS + "?limit=1", x.viewer), 200).json
    check(len(first["items"]) == 1 and first["next_cursor"], "page 1: %r" % first)
    second = expect_status(x.c.get(ALERTS + "?limit=1&cursor=" + first["next_cursor"], x.viewer), 200).json
    check(len(second["items"]) == 1 and second["items"][0]["id"] < first["items"][0]["id"], "page 2: %r" % second)


@test("alerts: the webhook gets each change as JSON, retried after a 500")
def t_alerts_webhook(x):
    job, alert = failed_job_alert(x)
    end = time.time() + DEADLINE_S
    mine = []
    while time.time() < end:
        seen = x.webhook.seen()
        mine = [(status, ctype, json.loads(body)) for status, ctype, body in seen
                if json.loads(body)["alert"]["id"] == alert["id"]]
        if any(status == 200 for status, _, _ in mine) and len(seen) >= 2:
            break
        time.sleep(0.05)
    seen = x.webhook.seen()
    check(len(seen) >= 2 and seen[0][0] == 500, "the listener saw %d requests" % len(seen))
    check(any(status == 200 and body == seen[0][2] for status, _, body in seen[1:]),
          "the event answered 500 was not sent again")
    delivered = [body for status, ctype, body in mine if status == 200]
    check(delivered and delivered[0]["event"] == "opened" and delivered[0]["alert"]["rule"] == "job_failed"
          and delivered[0]["alert"]["entity_id"] == job["id"], "webhook events for alert %d: %r" % (alert["id"], mine))
    check(all(ctype == "application/json" for _, ctype, _ in mine), "content types: %r" % mine)


# -- metrics (GET /metrics)

def prometheus_parser():
    """prometheus_client's text parser: Debian's python3-prometheus-client
    (scripts/deps.sh test), also when python3 is not Debian's own."""
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        sys.path.append("/usr/lib/python3/dist-packages")
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError:
            raise TestFailure("the metrics tests need prometheus_client: install python3-prometheus-client "
                              "(scripts/deps.sh test)")
    return text_string_to_metric_families


METRIC_FAMILIES = {
    "importq_jobs_started": "counter", "importq_jobs_finished": "counter",
    "importq_job_failures": "counter", "importq_rows_read": "counter",
    "importq_rows_imported": "counter", "importq_rows_rejected": "counter",
    "importq_bytes_read": "counter", "importq_phase_duration_seconds": "histogram",
    "importq_job_duration_seconds": "histogram", "importq_job_queue_wait_seconds": "histogram",
    "importq_schedule_fires": "counter", "importq_database_errors": "counter",
    "importq_http_requests": "counter", "importq_http_request_duration_seconds": "histogram",
    "importq_build_info": "gauge", "importq_queue_jobs": "gauge",
    "importq_queue_jobs_finished_24h": "gauge", "importq_queue_max_concurrent": "gauge",
    "importq_queue_available_slots": "gauge", "importq_queue_capacity": "gauge",
    "importq_queue_oldest_queued_age_seconds": "gauge", "importq_nodes_alive": "gauge",
    "importq_queue_status_up": "gauge",
}


class Scrape:
    """One GET /metrics, parsed by a real Prometheus parser and checked:
    every family has HELP and TYPE, histograms are cumulative."""

    def __init__(self, client, token=None):
        r = expect_status(client.get("/metrics", token), 200)
        ctype = r.header("Content-Type") or ""
        check(ctype == "text/plain; version=0.0.4; charset=utf-8", "/metrics Content-Type %r" % ctype)
        text = r.body.decode("utf-8")
        self.text = text
        helped = set(re.findall(r"^# HELP (\S+) \S", text, re.M))
        typed = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
        self.families, self.samples = {}, {}
        for fam in prometheus_parser()(text):
            self.families[fam.name] = fam
            check(fam.type in ("counter", "gauge", "histogram"), "family %s has type %r" % (fam.name, fam.type))
            check(fam.documentation, "family %s has no HELP text" % fam.name)
            for s in fam.samples:
                key = (s.name, frozenset(s.labels.items()))
                check(key not in self.samples, "a series twice: %s %r" % key)
                self.samples[key] = s.value
        check(set(typed) == helped, "TYPE without HELP or HELP without TYPE: %r" % (set(typed) ^ helped))
        for name, kind in METRIC_FAMILIES.items():
            check(name in self.families, "no family %s in:\n%s" % (name, text[:2000]))
            check(self.families[name].type == kind, "%s is a %s, expected %s" % (name, self.families[name].type, kind))
        for fam in self.families.values():
            if fam.type == "histogram":
                self.check_histogram(fam)

    def check_histogram(self, fam):
        series = {}
        for s in fam.samples:
            labels = {k: v for k, v in s.labels.items() if k != "le"}
            key = frozenset(labels.items())
            series.setdefault(key, {"buckets": []})
            if s.name.endswith("_bucket"):
                series[key]["buckets"].append((float(s.labels["le"]), s.value))
            elif s.name.endswith("_count"):
                series[key]["count"] = s.value
        for key, v in series.items():
            bounds = [b for b, _ in v["buckets"]]
            counts = [c for _, c in v["buckets"]]
            check(bounds == sorted(bounds) and bounds[-1] == float("inf"), "%s %r: buckets %r" % (fam.name, dict(key), bounds))
            check(counts == sorted(counts), "%s %r: buckets not cumulative %r" % (fam.name, dict(key), counts))
            check(counts[-1] == v.get("count"), "%s %r: +Inf bucket %r != _count %r" % (fam.name, dict(key), counts[-1], v.get("count")))

    def value(self, name, **labels):
        return self.samples.get((name, frozenset(labels.items())), 0.0)


@test("metrics: a viewer token is needed by default (401 without)")
def t_metrics_auth(x):
    expect_problem(x.c.get("/metrics"), 401)
    Scrape(x.c, x.viewer)
    Scrape(x.c, x.op)


@test("metrics: metrics-auth none serves them without a token")
def t_metrics_auth_none(x):
    s = Scrape(x.aux_client)
    check(s.value("importq_build_info", version=expect_status(x.aux_client.get("/healthz"), 200).json["version"]) == 1,
          "importq_build_info with the /healthz version is not 1:\n" + s.text[-1500:])


@test("metrics: a bad metrics-auth stops serve with a clear error")
def t_metrics_auth_bad(x):
    r = subprocess.run([x.server.binary, "serve", "--db", x.aux.db, "--listen", "127.0.0.1:0",
                        "--metrics-auth", "everyone", "--shutdown-grace", "1s"],
                       capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    check(r.returncode != 0 and "metrics-auth" in out, "serve --metrics-auth everyone: exit %d, %s" % (r.returncode, out[-800:]))


@test("metrics: jobs, rows, phases and requests move the counters")
def t_metrics_move(x):
    job_route = Q + "/{id}"
    before = Scrape(x.c, x.viewer)
    ids = [x.submit(x.spec())["id"] for _ in range(2)]
    for job_id in ids:
        done = x.wait_status(job_id, ("COMPLETED", "FAILED"))
        check(done["status"] == "COMPLETED", "job FAILED: %r" % done["error"])
    bad = x.submit(x.spec(path="bad_teams.csv"))["id"]
    x.wait_status(bad, ("COMPLETED", "FAILED"))
    expect_status(x.c.get(Q + "/" + ids[0], x.viewer), 200)
    expect_status(x.c.get("/no/such/endpoint/" + x.tag), 404)
    after = Scrape(x.c, x.viewer)

    def moved(name, at_least, **labels):
        delta = after.value(name, **labels) - before.value(name, **labels)
        check(delta >= at_least, "%s%r moved by %s, expected at least %s" % (name, labels, delta, at_least))

    moved("importq_jobs_started_total", 3)
    moved("importq_jobs_finished_total", 2, outcome="completed")
    moved("importq_jobs_finished_total", 1, outcome="failed_final")
    moved("importq_job_failures_total", 1, code="rejected")
    moved("importq_rows_read_total", 6)
    moved("importq_rows_imported_total", 6)
    moved("importq_rows_rejected_total", 1)
    moved("importq_bytes_read_total", 2 * len("team_id,name\n1,Platform\n2,Data\n3,Web\n"))
    for phase in ("read", "stage", "validate", "promote"):
        moved("importq_phase_duration_seconds_count", 2, phase=phase)
    moved("importq_job_duration_seconds_count", 2, outcome="completed")
    moved("importq_job_queue_wait_seconds_count", 3)
    moved("importq_http_requests_total", 1, route=job_route, method="GET", code="200")
    moved("importq_http_requests_total", 2, route=Q, method="POST", code="201")
    moved("importq_http_requests_total", 1, route="unmatched", method="GET", code="404")
    moved("importq_http_request_duration_seconds_count", 1, route=job_route)
    moved("importq_http_request_duration_seconds_count", 1, route="unmatched")
    moved("importq_http_requests_total", 1, route="/metrics", method="GET", code="200")
    for key in after.samples:
        route = dict(key[1]).get("route")
        check(route is None or route == "unmatched" or route.startswith("/") and "/no/such" not in route,
              "a raw path as a route label: %r" % (key,))
    check(after.value("importq_queue_max_concurrent") >= 1 and after.value("importq_nodes_alive") >= 1
          and after.value("importq_queue_status_up") == 1, "queue gauges:\n" + after.text[-2500:])
    status = expect_status(x.c.get(Q + "/status", x.viewer), 200).json
    check(after.value("importq_queue_capacity") == status["queue_capacity"],
          "importq_queue_capacity %r, status says %r" % (after.value("importq_queue_capacity"), status["queue_capacity"]))


# -- audit verification (breaks the chain: runs late)

@test("audit verify: ok, then a tampered row is named")
def t_audit_verify(x):
    for _ in range(3):
        x.submit(x.spec(hold=True))
    rows = expect_status(x.c.get(API + "/import-audit?action=job.create&limit=500", x.viewer), 200).json["items"]
    r = expect_status(x.c.get(API + "/import-audit/verify", x.admin), 200)
    v = r.json
    check(v.get("ok") is True and v.get("first_bad_id") is None and isinstance(v.get("rows_checked"), int)
          and v["rows_checked"] >= len(rows) >= 3, "verify of an untouched trail (%d job.create rows): %s" % (len(rows), r.describe()))
    victim = rows[len(rows) // 2]["id"]
    sql(x.db, "UPDATE stg_import_audit SET actor = 'mallory' WHERE id = %d" % victim)
    r = expect_status(x.c.get(API + "/import-audit/verify", x.admin), 200)
    v = r.json
    check(v.get("ok") is False and v.get("first_bad_id") == victim,
          "after tampering row %d: %s" % (victim, r.describe()))


# -- the events stream

STREAMED_ENTITIES = {"job", "lock", "alert", "schedule", "orchestration"}


class EventStream:
    """GET /api/v2/events read frame by frame (http.client undoes the chunking)."""

    def __init__(self, port, token, last_event_id=None, query="", rcvbuf=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE_S)
        if rcvbuf:  # a small receive window: the server's side fills soon
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.settimeout(DEADLINE_S)
            sock.connect(("127.0.0.1", port))
            self.conn.sock = sock
        headers = {"Accept": "text/event-stream"}
        if token:
            headers["Authorization"] = "Bearer " + token
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.conn.request("GET", API + "/events" + query, headers=headers)
        self.res = self.conn.getresponse()
        self.status = self.res.status

    def header(self, name):
        return self.res.getheader(name)

    def body(self):
        return self.res.read()

    def next_frame(self, deadline=None):
        """The next event as {"id", "event", "data"}; comments and retry lines skipped.
        None at the end of the stream; socket.timeout after deadline (the heartbeat
        comments every 15 s would otherwise keep a quiet stream from timing out)."""
        frame = {}
        while True:
            if deadline is not None and time.time() > deadline:
                raise socket.timeout("no event before the deadline")
            line = self.res.readline()
            if not line:
                return None
            line = line.decode("utf-8").rstrip("\r\n")
            if line == "":
                if "data" in frame or "event" in frame:
                    if "data" in frame:
                        frame["data"] = json.loads(frame["data"])
                    return frame
                frame = {}
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            frame[field] = value[1:] if value.startswith(" ") else value

    def comment(self, deadline):
        """The next comment line (": ..."), skipping whatever else comes; None at the end."""
        while time.time() < deadline:
            line = self.res.readline()
            if not line:
                return None
            if line.startswith(b":"):
                return line.decode("utf-8").rstrip("\r\n")
        raise socket.timeout("no comment before the deadline")

    def until(self, cond, what):
        """Frames until cond(frame) holds (DEADLINE_S at most); all of them."""
        seen = []
        deadline = time.time() + DEADLINE_S
        while True:
            try:
                frame = self.next_frame(deadline)
            except socket.timeout:
                frame = None
            check(frame is not None, "the event stream ended or went quiet before %s; saw %r"
                  % (what, [(f.get("id"), f.get("event")) for f in seen][-10:]))
            seen.append(frame)
            if cond(frame):
                return seen

    def close(self):
        self.conn.close()


def open_stream_until(port, token, status, what, **kw):
    """A stream answered with status, retried until DEADLINE_S (a freed slot shows within a tick)."""
    deadline = time.time() + DEADLINE_S
    while True:
        s = EventStream(port, token, **kw)
        if s.status == status or time.time() > deadline:
            check(s.status == status, "%s: GET /events answered %d, expected %d" % (what, s.status, status))
            return s
        s.close()
        time.sleep(0.05)


@test("events: viewer token required, bad Last-Event-ID and query refused")
def t_events_auth(x):
    s = EventStream(x.server.port, None)
    check(s.status == 401 and s.header("WWW-Authenticate"), "GET /events without a token: %d" % s.status)
    s.close()
    s = EventStream(x.server.port, "not-a-token")
    check(s.status == 401, "GET /events with a bad token: %d" % s.status)
    s.close()
    for bad in ("abc", "-1", "1.5"):
        s = EventStream(x.server.port, x.viewer, last_event_id=bad)
        check(s.status == 400 and json.loads(s.body()).get("status") == 400,
              "Last-Event-ID %r answered %d" % (bad, s.status))
        s.close()
    s = EventStream(x.server.port, x.viewer, query="?since=1")
    check(s.status == 400, "GET /events?since=1 answered %d" % s.status)
    s.close()


@test("events: a submitted job's changes arrive as events")
def t_events_job(x):
    s = EventStream(x.server.port, x.viewer)
    try:
        check(s.status == 200, "GET /events answered %d" % s.status)
        check((s.header("Content-Type") or "").startswith("text/event-stream"),
              "GET /events Content-Type %r" % s.header("Content-Type"))
        check(s.header("Cache-Control") == "no-store", "GET /events Cache-Control %r" % s.header("Cache-Control"))
        job_id = x.submit(x.spec())["id"]
        frames = s.until(lambda f: f.get("data", {}).get("entity_id") == job_id
                         and f["data"].get("after", {}).get("status") == "COMPLETED", "the job's completion")
        mine = [f for f in frames if f.get("data", {}).get("entity_id") == job_id]
        events = [f["event"] for f in mine]
        check(events[0] == "job.create" and "job.started" in events and events[-1] == "job.completed",
              "the job's events: %r" % events)
        for f in mine:
            d = f["data"]
            check(f["id"] == str(d["id"]) and d["entity"] == "job" and d["action"] == f["event"]
                  and TIME_RE.match(d["at"]) and isinstance(d.get("after"), dict), "event %r" % f)
        check(mine[0]["data"]["actor"] == x.op_name and mine[0]["data"]["after"]["status"] == "QUEUED",
              "job.create event %r" % mine[0])
        ids = [int(f["id"]) for f in frames if "id" in f]
        check(ids == sorted(set(ids)), "event ids not increasing: %r" % ids)
    finally:
        s.close()


def audit_ids_between(x, low, high, client=None, token=None):
    """Ids of the streamed entities' audit rows with low < id <= high, from GET /import-audit."""
    ids, cursor = set(), None
    while True:
        r = expect_status((client or x.c).get(API + "/import-audit?limit=500" + ("&cursor=" + cursor if cursor else ""),
                                              token or x.viewer), 200)
        for item in r.json["items"]:
            if low < item["id"] <= high and item["entity"] in STREAMED_ENTITIES:
                ids.add(item["id"])
        cursor = r.json.get("next_cursor")
        if not cursor or min(i["id"] for i in r.json["items"]) <= low:
            return ids


@test("events: Last-Event-ID resumes without loss or duplicates")
def t_events_resume(x):
    s = EventStream(x.server.port, x.viewer)
    try:
        job_id = x.submit(x.spec(hold=True))["id"]
        first = s.until(lambda f: f.get("data", {}).get("entity_id") == job_id, "the job's creation")[-1]
    finally:
        s.close()
    resume_at = int(first["id"])
    # changes made while no stream is open
    expect_status(x.c.request("PUT", Q + "/" + job_id, {"priority": 8}, token=x.op), 200)
    other = x.submit(x.spec(hold=True))["id"]
    expect_status(x.c.request("DELETE", Q + "/" + job_id, token=x.op), 200)
    expect_status(x.c.request("DELETE", Q + "/" + other, token=x.op), 200)
    s = EventStream(x.server.port, x.viewer, last_event_id=resume_at)
    try:
        check(s.status == 200, "resuming GET /events answered %d" % s.status)
        frames = s.until(lambda f: f.get("data", {}).get("entity_id") == other
                         and f["data"].get("after", {}).get("status") == "CANCELLED", "the second cancel")
    finally:
        s.close()
    ids = [int(f["id"]) for f in frames if "id" in f]
    check(all(i > resume_at for i in ids), "a resumed stream repeated event %d: %r" % (resume_at, ids))
    check(ids == sorted(set(ids)), "duplicate or unordered ids after resuming: %r" % ids)
    check(set(ids) == audit_ids_between(x, resume_at, ids[-1]),
          "the resumed stream %r is not the audit trail's rows %r" % (ids, sorted(audit_ids_between(x, resume_at, ids[-1]))))
    mine = [f["event"] for f in frames if f.get("data", {}).get("entity_id") == job_id]
    check(mine[0] == "job.update" and mine[-1] == "job.cancel", "the first job's events after resuming: %r" % mine)
    # an id beyond the trail (another database's) starts at the head, not never
    s = EventStream(x.server.port, x.viewer, last_event_id=10 ** 15)
    try:
        check(s.status == 200, "GET /events with a future Last-Event-ID answered %d" % s.status)
        third = x.submit(x.spec(hold=True))["id"]
        s.until(lambda f: f.get("data", {}).get("entity_id") == third, "a change after a future Last-Event-ID")
        expect_status(x.c.request("DELETE", Q + "/" + third, token=x.op), 200)
    finally:
        s.close()


@test("events: an alert's opening, acknowledgement and resolution arrive as events")
def t_events_alerts(x):
    s = EventStream(x.server.port, x.viewer)
    try:
        check(s.status == 200, "GET /events answered %d" % s.status)
        job, alert = failed_job_alert(x)
        aid = str(alert["id"])

        def alert_event(action):
            return lambda f: f.get("event") == action and f.get("data", {}).get("entity_id") == aid

        opened = s.until(alert_event("alert.opened"), "alert.opened of alert " + aid)[-1]["data"]
        after = opened.get("after", {})
        check(opened["entity"] == "alert" and opened["actor"] == "system" and after.get("state") == "open"
              and after.get("rule") == "job_failed" and after.get("entity_id") == job["id"]
              and after.get("severity") == "critical",
              "alert.opened event %r" % opened)
        expect_status(x.c.request("POST", "%s/%s/ack" % (ALERTS, aid), token=x.op), 200)
        acked = s.until(alert_event("alert.acked"), "alert.acked of alert " + aid)[-1]["data"]
        check(acked["actor"] == x.op_name and acked["after"]["state"] == "acked", "alert.acked event %r" % acked)
        # the condition clears (the job is no longer FAILED): the alert loop resolves it
        sql(x.db, "UPDATE stg_import_queue SET status = 'COMPLETED', error = NULL WHERE id = '%s'" % job["id"])
        resolved = s.until(alert_event("alert.resolved"), "alert.resolved of alert " + aid)[-1]["data"]
        check(resolved["actor"] == "system" and resolved["after"]["state"] == "resolved"
              and TIME_RE.match(resolved["after"].get("resolved_at", "")), "alert.resolved event %r" % resolved)
    finally:
        s.close()
    for action in ("alert.opened", "alert.resolved"):
        rows = expect_status(x.c.get(API + "/import-audit?action=%s&entity_id=%s" % (action, aid), x.viewer), 200).json["items"]
        check(len(rows) == 1 and rows[0]["actor"] == "system" and rows[0]["entity"] == "alert",
              "%s audit rows of alert %s: %r" % (action, aid, rows))


def events_node(x, label):
    """A node on the aux database with a 200 ms heartbeat and no queue
    limit, started; stop() it."""
    node = Server(x.server.binary, x.aux.db, x.workdir, label,
                  ["--events-heartbeat", "200ms", "--max-queue-size", "0", "--alerts", "false"])
    node.start()
    return node


@test("events: an idle stream gets a heartbeat comment every events-heartbeat")
def t_events_heartbeat(x):
    node = events_node(x, "events-heartbeat")
    try:
        s = EventStream(node.port, x.aux_op)
        try:
            check(s.status == 200, "GET /events answered %d" % s.status)
            deadline = time.time() + DEADLINE_S
            comments = [s.comment(deadline), s.comment(deadline)]
            check(comments == [": keep-alive", ": keep-alive"], "comments on an idle stream: %r" % comments)
        finally:
            s.close()
    finally:
        node.stop()


@test("events: a client that does not read is disconnected when its buffer fills; Last-Event-ID resumes without loss")
def t_events_overflow(x):
    node = events_node(x, "events-overflow")
    client = Client(node.port)
    try:
        slow = EventStream(node.port, x.aux_op, rcvbuf=4096)  # read only once the burst is out
        watch = EventStream(node.port, x.aux_op)  # read all along, by a thread
        check(slow.status == 200 and watch.status == 200, "GET /events answered %d, %d" % (slow.status, watch.status))
        watched = {}

        name = "overflow " + x.tag

        def watch_cb():
            try:
                watched["frames"] = watch.until(lambda f: f.get("event") == "orchestration.create"
                                                and f.get("data", {}).get("after", {}).get("name") == name,
                                                "the orchestration on a stream that reads")
            except Exception as e:  # reported below
                watched["error"] = e

        # one request, 951 audit rows of about 600 bytes (570 KB): beyond the
        # stream's 256 KiB, its socket's 64 KiB (doubled by the kernel) and a
        # 4 KiB window; a batch the fan-out reads (256 rows) fits the buffer
        jobs = [{"key": "k%03d" % i, "hold": True, "name": "overflow %s %03d %s" % (x.tag, i, "x" * 40),
                 "source": {"format": "csv", "path": "teams.csv"}, "target": {"table": "overflow_" + x.tag}}
                for i in range(950)]
        thread = threading.Thread(target=watch_cb)
        thread.start()
        r = expect_status(client.request("POST", API + "/import-orchestrations", {"name": name, "jobs": jobs},
                                         token=x.aux_op), 201)
        orch_id = r.json["id"]
        done = lambda f: f.get("event") == "orchestration.create" and f.get("data", {}).get("entity_id") == orch_id
        # the watcher saw the burst's last row: the fan-out has handed every
        # row to both streams (one pass appends a batch to each)
        thread.join(DEADLINE_S + 5)
        watch.close()
        check("frames" in watched, "the reading stream: %r" % watched.get("error"))
        sizes = [len(json.dumps(f["data"])) for f in watched["frames"] if "data" in f]
        bytes_note = "%d frames of %d bytes on average" % (len(sizes), sum(sizes) // max(1, len(sizes)))
        frames, ended = [], None
        deadline = time.time() + DEADLINE_S
        try:
            while ended is None:
                frame = slow.next_frame(deadline)
                if frame is not None:
                    frames.append(frame)
                    continue
                # http.client's readline hides how a chunked body ended; its
                # chunk_left is None after the last chunk, 0 when none came
                ended = "the end of the stream" if slow.res.chunk_left is None else "error"
        except (http.client.IncompleteRead, ConnectionError) as e:
            ended = "error"
        except socket.timeout:
            ended = "a timeout"
        slow.close()
        check(ended == "error", "the slow stream ended with %s after %d frames, not an error (the burst: %s)"
              % (ended, len(frames), bytes_note))
        ids = [int(f["id"]) for f in frames if "id" in f]
        check(ids and len(ids) < 951 and not any(done(f) for f in frames),
              "the slow stream was not cut short: %d frames" % len(ids))
        resumed = EventStream(node.port, x.aux_op, last_event_id=ids[-1])
        try:
            check(resumed.status == 200, "resuming GET /events answered %d" % resumed.status)
            rest = resumed.until(done, "the orchestration after resuming")
        finally:
            resumed.close()
        check(not any(f.get("event") == "reset" for f in rest), "the resumed stream was reset: %r" % rest[:2])
        rest_ids = [int(f["id"]) for f in rest if "id" in f]
        all_ids = ids + rest_ids
        check(all_ids == sorted(set(all_ids)), "duplicate or unordered ids across the resume")
        want = audit_ids_between(x, ids[0] - 1, all_ids[-1], client, x.aux_op)
        check(set(all_ids) == want, "lost across the resume: %r" % sorted(want - set(all_ids))[:10])
    finally:
        node.stop()


@test("events: the node's stream limit gives 503, a closed stream frees its slot")
def t_events_limit(x):
    port = x.aux.port  # events-max-streams 2
    a = open_stream_until(port, x.aux_op, 200, "the first stream")
    b = open_stream_until(port, x.aux_op, 200, "the second stream")
    try:
        c = EventStream(port, x.aux_op)
        problem = json.loads(c.body())
        c.close()
        check(c.status == 503 and problem.get("status") == 503 and c.header("Retry-After"),
              "a third stream: %d %r" % (c.status, problem))
        check((c.header("Content-Type") or "").startswith("application/problem+json"),
              "the 503's Content-Type %r" % c.header("Content-Type"))
        a.close()
        a = open_stream_until(port, x.aux_op, 200, "a stream after one closed")
        # a schedule, not a job: the aux queue may be full (max-queue-size 2)
        r = expect_status(x.aux_client.request("POST", API + "/scheduled-imports",
                                               schedule_body(x, enabled=False), token=x.aux_op), 201)
        sched_id = r.json["id"]
        for s in (a, b):
            s.until(lambda f: f.get("data", {}).get("entity_id") == sched_id
                    and f.get("event") == "schedule.created", "the aux schedule on each stream")
        expect_status(x.aux_client.request("DELETE", API + "/scheduled-imports/" + sched_id, token=x.aux_op), 200, 204)
    finally:
        a.close()
        b.close()


@test("events: open streams end at shutdown and the server exits 0")
def t_events_shutdown(x):
    node = Server(x.server.binary, x.aux.db, x.workdir, "events-stop")
    node.start()
    try:
        streams = [EventStream(node.port, x.aux_op) for _ in range(3)]
        check(all(s.status == 200 for s in streams), "streams on the new node: %r" % [s.status for s in streams])
        node.proc.terminate()
        deadline = time.time() + DEADLINE_S
        for s in streams:
            try:
                while s.next_frame(deadline) is not None:
                    pass
            except (socket.timeout, http.client.IncompleteRead, ConnectionError) as e:
                check(not isinstance(e, socket.timeout), "a stream stayed open after SIGTERM")
            s.close()
        node.proc.wait(timeout=DEADLINE_S)
        check(node.proc.returncode == 0, "the node exited %d with streams open:\n%s" % (node.proc.returncode, node.log_tail()))
    finally:
        node.stop()


# -- the end

@test("never a 5xx, and the server is still up")
def t_alive(x):
    expect_status(x.c.get("/healthz"), 200)
    check(x.server.alive(), "the server process exited:\n" + x.server.log_tail())
    check(x.aux.alive(), "the second server process exited:\n" + x.aux.log_tail())
    errors = x.c.server_errors + x.aux_client.server_errors
    check(not errors, "%d answers were 5xx, e.g.:\n  %s" % (len(errors), "\n  ".join(errors[:5])))


@test("SIGTERM: both servers exit 0, no sanitizer report")
def t_shutdown(x):
    for s in (x.aux, x.server):
        check(s.alive(), "%s server is not running:\n%s" % (s.label, s.log_tail()))
        s.stop()
        check(s.proc.returncode == 0, "%s server exited %d on SIGTERM:\n%s" % (s.label, s.proc.returncode, s.log_tail()))
        log = open(s.log_path, errors="replace").read()
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:", "ThreadSanitizer"):
            at = log.find(marker)
            check(at < 0, "%s server log has a %s report:\n%s" % (s.label, marker, log[max(0, at - 200):][:3000]))


# --------------------------------------------------------------- runner ----

def write_imports(root):
    os.makedirs(root, exist_ok=True)
    files = {
        "teams.csv": "team_id,name\n1,Platform\n2,Data\n3,Web\n",
        "bad_teams.csv": "team_id,name\n4,Mobile\nfour,Broken\n5,Infra\n",
        "users.csv": "user_id,email,team_id\n10,a@example.com,1\n11,b@example.com,2\n12,c@example.com,3\n",
        "steps.json": json.dumps({"steps": [{"step_id": 1, "title": "one"}, {"step_id": 2, "title": "two"}]}),
        "bad_teams.json": '[{"team_id": 4, "name": "Mobile"}, {"team_id": "four", "name": "Broken"},'
                          ' {"team_id": 12345678901234567890}, {"team_id": 5, "team_id": 6}]',
    }
    for name, text in files.items():
        with open(os.path.join(root, name), "w") as f:
            f.write(text)
    with open(os.path.join(root, "big.csv"), "w") as f:
        f.write("team_id,name\n")
        f.writelines("%d,name number %d of the generated file\n" % (i, i) for i in range(1500000))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--backend", choices=("sqlite", "postgres"), required=True)
    ap.add_argument("--db", help="service database URL (default: a temp SQLite file)")
    ap.add_argument("--aux-db", help="database of the second server (max-queue-size 2)")
    ap.add_argument("-k", dest="only", help="run only tests whose name contains this")
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="importq-api.")
    x = Ctx(args, workdir)
    x.db = args.db or "sqlite:" + os.path.join(workdir, "service.db")
    aux_db = args.aux_db or "sqlite:" + os.path.join(workdir, "aux.db")
    x.webhook = WebhookListener()
    x.server = Server(args.bin, x.db, workdir, "main", ["--max-body", "1MiB", "--max-upload", "256KiB",
                                                        "--alert-every", "100ms", "--alert-for", "0",
                                                        "--alert-webhook", x.webhook.url,
                                                        "--alert-webhook-backoff", "100ms"])
    x.aux = Server(args.bin, aux_db, workdir, "aux", ["--max-queue-size", "2", "--metrics-auth", "none",
                                                   "--events-max-streams", "2"])
    selected = [(n, f) for n, f in TESTS if not args.only or args.only in n]
    failed = []
    started = time.time()
    try:
        write_imports(x.server.import_root)
        for s in (x.server, x.aux):
            s.migrate()
        x.op_name, x.viewer_name = "api-operator", "api-viewer"
        x.op = x.server.token(x.op_name, "operator")
        x.viewer = x.server.token(x.viewer_name, "viewer")
        x.admin = x.server.token("api-admin", "admin")
        x.revokable_name = "api-revokable"
        x.revokable = x.server.token(x.revokable_name, "operator")
        x.aux_op = x.aux.token("api-aux-operator", "operator")
        x.server.start()
        x.aux.start()
        x.c = Client(x.server.port)
        x.aux_client = Client(x.aux.port)
        # State the later tests share, made once even when -k skips its test.
        x.completed_id = None
        for name, fn in selected:
            if x.completed_id is None and name != "POST job: a CSV job runs to COMPLETED" and fn in (
                    t_get, t_put_errors, t_cancel_finished, t_execute_completed, t_rejects, t_status):
                t_completes_csv(x)
            if fn is t_cancel_finished and not hasattr(x, "cancelled_id"):
                t_cancel_queued(x)
            t0 = time.time()
            try:
                fn(x)
                print("ok   %-62s %5.2fs" % (name, time.time() - t0), flush=True)
            except Exception as e:
                detail = str(e) if isinstance(e, AssertionError) else traceback.format_exc(limit=3)
                failed.append(name)
                print("FAIL %s\n     %s" % (name, detail.replace("\n", "\n     ")), flush=True)
    except Exception as e:
        failed.append("setup")
        print("FAIL setup: %s" % (e if isinstance(e, AssertionError) else traceback.format_exc()), flush=True)
    finally:
        for s in (x.server, x.aux):
            s.stop()
        if failed:
            print("--- server log (tail) ---\n" + x.server.log_tail(), flush=True)
        shutil.rmtree(workdir, ignore_errors=True)
    count = len(selected) + (1 if "setup" in failed else 0)
    print("api tests: %d on %s, %d failed (%.0f s)" % (count, args.backend, len(failed), time.time() - started))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

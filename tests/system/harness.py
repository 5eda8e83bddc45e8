# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The gistd authors
"""Helpers for the system scenarios in this directory.

A scenario is a small program that speaks TAP:

    import harness
    sc = harness.Scenario("001-happy-path")     # temp dirs, fake, notify
    with sc:
        g = sc.start()                          # gistd -c CONF, foreground
        sc.drop("a.txt", b"Hello")
        sc.tap.ok(sc.wait_summary("a.txt"), "summary appears")
    sys.exit(sc.tap.done())

Everything waits for an event with a deadline (wait_for); nothing sleeps
for a fixed time.  gistd and the fake provider are always stopped when the
scenario ends, whatever happens.  GISTD_BIN names the daemon (default:
src/gistd of this tree); GISTD_TEST_KEEP=1 keeps the temporary directory;
GISTD_TEST_TIMEOUT_SCALE multiplies every deadline (slow machines,
valgrind).
"""

import atexit
import errno
import json
import os
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))

import fake_provider  # noqa: E402
from fake_provider import FakeProvider, expected_file_summary  # noqa: E402,F401

GISTD_BIN = os.environ.get("GISTD_BIN") or os.path.join(TOP, "src", "gistd")
SCALE = float(os.environ.get("GISTD_TEST_TIMEOUT_SCALE", "1") or "1")
# Set by tests/tooling (asan, tsan, valgrind): gistd is instrumented, and
# its memory use says nothing about gistd's own.
INSTRUMENTED = os.environ.get("GISTD_TEST_SANITIZED", "")
PROMPT = "Summarize the following text in one sentence:"

# Variables that would change gistd's behaviour behind the test's back.
_SCRUB_ENV = ("OPENAI_API_KEY", "JOURNAL_STREAM", "NOTIFY_SOCKET",
              "CREDENTIALS_DIRECTORY", "WATCHDOG_USEC", "WATCHDOG_PID",
              "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "INVOCATION_ID",
              "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
              "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY",
              "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")

_live_processes = []


def _kill_leftovers():
    for p in _live_processes:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass


atexit.register(_kill_leftovers)


def _terminated(signo, frame):
    # make check's timeout or a ^C: unwind, so that cleanup stops gistd.
    raise SystemExit(128 + signo)


if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _terminated)


def timeout(seconds):
    """A deadline in seconds, scaled for slow machines."""
    return seconds * SCALE


def wait_for(predicate, timeout=10.0, interval=0.01):
    """Call predicate until it returns something true or the deadline passes.

    Returns the last value of predicate (true on success, false on timeout).
    """
    deadline = time.monotonic() + timeout * SCALE
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def replay_bucket(times, capacity, per_second, cost=1.0, level=None):
    """Replays requests that arrived at times (sorted) through a token
    bucket that holds capacity, refills per_second and starts at level
    (default full) at times[0]; each request takes cost.

    Returns (lowest, waited): the lowest level left after a request, which
    is below 0 if the requests overdrew the bucket, and how many requests
    found it short of their cost, so that they had to wait for a refill.
    This holds whatever the speed of the machine, unlike gaps between
    requests: a slow gistd spends its allowance slowly and the bucket
    refills meanwhile.
    """
    level = capacity if level is None else level
    lowest, waited = level, 0
    for prev, t in zip(times[:1] + times, times):
        if level < cost:
            waited += 1
        level = min(capacity, level + per_second * (t - prev)) - cost
        lowest = min(lowest, level)
    return lowest, waited


def b(name):
    """A file name as bytes (str names are encoded as the OS does)."""
    return name if isinstance(name, bytes) else os.fsencode(name)


def escape_name(name):
    """A name escaped as gistd's logs do: \\n \\t \\\\ and \\xNN."""
    raw = b(name)
    out = []
    text = raw.decode("utf-8", "surrogateescape")
    for ch in text:
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:
            out.append("\\x%02x" % (o - 0xDC00))
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\\":
            out.append("\\\\")
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02x" % o)
        else:
            out.append(ch)
    return "".join(out)


# -- TAP ----------------------------------------------------------------------

class Tap:
    """Numbered TAP results; done() prints the plan and returns the status."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        self.on_failure = []  # callables returning diagnostic text

    def diag(self, text):
        for line in str(text).splitlines() or [""]:
            print("# " + line, flush=True)

    def ok(self, cond, desc, *diag):
        self.n += 1
        desc = desc.replace("#", "\\#").replace("\n", " ")
        if cond:
            print("ok %d - %s" % (self.n, desc), flush=True)
            return True
        self.failed += 1
        print("not ok %d - %s" % (self.n, desc), flush=True)
        for d in diag:
            self.diag(d)
        for fn in self.on_failure:
            try:
                self.diag(fn())
            except Exception as e:  # diagnostics must never hide a result
                self.diag("(diagnostics failed: %r)" % e)
        return False

    def is_(self, got, expected, desc, *diag):
        return self.ok(got == expected, desc,
                       "got:      %r" % (got,), "expected: %r" % (expected,),
                       *diag)

    def like(self, text, regex, desc, *diag):
        m = re.search(regex, text or "", re.M)
        return self.ok(m is not None, desc,
                       "no match for /%s/ in:" % regex,
                       *(("  " + line) for line in (text or "").splitlines()
                         [-15:]), *diag)

    def unlike(self, text, regex, desc, *diag):
        m = re.search(regex, text or "", re.M)
        return self.ok(m is None, desc,
                       "unexpected match for /%s/: %r" %
                       (regex, m.group(0) if m else None), *diag)

    def skip(self, desc, reason):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, desc, reason), flush=True)

    def ok_memory(self, cond, desc, *diag):
        """A check of gistd's memory use; skipped when it is instrumented."""
        if INSTRUMENTED:
            self.skip(desc, "gistd runs under %s" % INSTRUMENTED)
            return True
        return self.ok(cond, desc, *diag)

    def skip_all(self, reason):
        print("1..0 # SKIP %s" % reason, flush=True)
        sys.exit(0)

    def bail_out(self, reason):
        print("Bail out! %s" % reason, flush=True)
        sys.exit(1)

    def done(self):
        print("1..%d" % self.n, flush=True)
        return 1 if self.failed else 0


# -- sd_notify -------------------------------------------------------------

class Message:
    """One notify datagram: time, sender pid (if known), raw text, fields."""

    def __init__(self, when, pid, raw):
        self.time = when
        self.pid = pid
        self.raw = raw
        self.fields = {}
        for line in raw.split("\n"):
            if "=" in line:
                k, _, v = line.partition("=")
                self.fields[k] = v

    def __repr__(self):
        return "Message(%r, pid=%r)" % (self.raw, self.pid)


class Notify:
    """An AF_UNIX datagram socket standing in for systemd's notify socket."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)  # so close() is noticed; not a sync sleep
        self.messages = []
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="notify")
        self._thread.start()

    def _run(self):
        space = socket.CMSG_SPACE(struct.calcsize("3i"))
        while not self._closing:
            try:
                data, anc, _, _ = self.sock.recvmsg(65536, space)
            except socket.timeout:
                continue
            except OSError:
                break
            pid = None
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and \
                        kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", cdata[:12])[0]
            msg = Message(time.monotonic(), pid,
                          data.decode("utf-8", "backslashreplace"))
            with self._cond:
                self.messages.append(msg)
                self._cond.notify_all()

    def close(self):
        self._closing = True
        self._thread.join(2)
        self.sock.close()

    def mark(self):
        """An index to pass as since= to look only at later messages."""
        with self._cond:
            return len(self.messages)

    def find(self, key, value=None, since=0, pid=None):
        """Messages since index since that carry key (with value)."""
        with self._cond:
            msgs = self.messages[since:]
        return [m for m in msgs if key in m.fields and
                (value is None or m.fields[key] == value) and
                (pid is None or m.pid == pid)]

    def wait(self, predicate, timeout=10.0, since=0):
        """The first message since index since for which predicate holds."""
        deadline = time.monotonic() + timeout * SCALE
        i = since
        with self._cond:
            while True:
                while i < len(self.messages):
                    if predicate(self.messages[i]):
                        return self.messages[i]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def wait_field(self, key, value=None, timeout=10.0, since=0):
        return self.wait(lambda m: key in m.fields and
                         (value is None or m.fields[key] == value),
                         timeout, since)

    def wait_status(self, regex, timeout=10.0, since=0):
        """The first STATUS= since index since that matches regex."""
        r = re.compile(regex)
        return self.wait(lambda m: "STATUS" in m.fields and
                         r.search(m.fields["STATUS"]) is not None,
                         timeout, since)

    def statuses(self, since=0):
        return [m.fields["STATUS"] for m in self.find("STATUS", since=since)]

    def summary(self, last=12):
        with self._cond:
            msgs = self.messages[-last:]
        return "\n".join(repr(m.raw) for m in msgs)


# -- the daemon --------------------------------------------------------------

class Gistd:
    """One gistd process in the foreground, stderr captured to a file."""

    count = 0

    def __init__(self, directory, argv, env, preexec=None):
        Gistd.count += 1
        self.stderr_path = os.path.join(directory,
                                        "gistd-%d.stderr" % Gistd.count)
        self.stdout_path = os.path.join(directory,
                                        "gistd-%d.stdout" % Gistd.count)
        self.argv = argv
        with open(self.stderr_path, "wb") as err, \
                open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, env=env,
                                         cwd=directory, preexec_fn=preexec)
        _live_processes.append(self.proc)
        self.pid = self.proc.pid
        self.returncode = None

    def log(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "backslashreplace")

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "backslashreplace")

    def log_tail(self, n=25):
        lines = self.log().splitlines()
        head = "gistd stderr (%s), last %d of %d lines:" % (
            self.stderr_path, min(n, len(lines)), len(lines))
        return "\n".join([head] + ["  " + ln for ln in lines[-n:]])

    def wait_log(self, regex, timeout=10.0, count=1):
        """Wait until regex matches count times in the log; the matches."""
        r = re.compile(regex, re.M)

        def found():
            m = r.findall(self.log())
            return m if len(m) >= count else None
        return wait_for(found, timeout, 0.02)

    def alive(self):
        return self.proc.poll() is None

    def wait(self, timeout=10.0):
        """The exit status, or None if still running at the deadline."""
        try:
            self.returncode = self.proc.wait(timeout * SCALE)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def send(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self, timeout=15.0, sig=signal.SIGTERM):
        """Send sig and wait; the exit status, or None if it had to be
        killed at the deadline."""
        if not self.alive():
            return self.wait(0)
        self.proc.send_signal(sig)
        rc = self.wait(timeout)
        if rc is None:
            self.kill()
        return rc

    def kill(self):
        if self.alive():
            self.proc.kill()
        self.wait(5)


# -- libconfig -----------------------------------------------------------

def _conf_string(s):
    out = ['"']
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def conf_value(v, indent=""):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        r = repr(v)
        return r if ("." in r or "e" in r or "n" in r) else r + ".0"
    if isinstance(v, bytes):
        return _conf_string(v.decode("utf-8", "surrogateescape"))
    if isinstance(v, str):
        return _conf_string(v)
    if isinstance(v, (list, tuple)):
        return "[ " + ", ".join(conf_value(x) for x in v) + " ]"
    if isinstance(v, dict):
        inner = indent + "  "
        lines = ["{"]
        for k, x in v.items():
            if x is not None:
                lines.append("%s%s = %s;" % (inner, k, conf_value(x, inner)))
        lines.append(indent + "}")
        return "\n".join(lines)
    raise TypeError("no libconfig form for %r" % (v,))


def conf_text(settings):
    """A libconfig file for a dict of settings (None values omitted)."""
    lines = ["# written by tests/system/harness.py"]
    for k, v in settings.items():
        if v is not None:
            lines.append("%s = %s;" % (k, conf_value(v)))
    return "\n".join(lines) + "\n"


def _merge(base, over):
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


# -- a scenario --------------------------------------------------------------

class Scenario:
    """Temporary inbox/outbox/failed, a fake provider, a notify socket."""

    def __init__(self, name, done_dir=False, fake=True, latency_ms=0):
        self.name = name
        self.tap = Tap()
        if not os.access(GISTD_BIN, os.X_OK):
            self.tap.skip_all("no gistd binary at %s (set GISTD_BIN)"
                              % GISTD_BIN)
        self.dir = tempfile.mkdtemp(prefix="gistd-%s-" % name[:20])
        self.inbox = os.path.join(self.dir, "inbox")
        self.outbox = os.path.join(self.dir, "outbox")
        self.failed = os.path.join(self.dir, "failed")
        self.done = os.path.join(self.dir, "done")
        self.staging = os.path.join(self.dir, "staging")
        for d in (self.inbox, self.outbox, self.failed, self.staging):
            os.mkdir(d)
        if done_dir:
            os.mkdir(self.done)
        self.key = "sk-test-" + secrets.token_hex(16)
        self.key_file = os.path.join(self.dir, "api-key")
        with open(self.key_file, "w") as f:
            f.write(self.key + "\n")
        os.chmod(self.key_file, 0o600)
        self.fake = FakeProvider(latency_ms=latency_ms).start() \
            if fake else None
        self.notify = Notify(self.dir)
        self.procs = []
        self.conf_path = None
        self.tap.on_failure.append(self._diagnostics)
        atexit.register(self.cleanup)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and exc_type is not SystemExit:
            import traceback
            self.tap.ok(False, "scenario ran to the end without an exception",
                        *traceback.format_exception(exc_type, exc, tb))
        self.cleanup()
        return exc_type is not None and exc_type is not SystemExit

    def _diagnostics(self):
        parts = ["scenario directory: %s" % self.dir]
        if self.fake:
            parts.append("fake provider: %d requests, %d connections" %
                         (self.fake.request_count(), self.fake.connections))
        parts.append("last notify messages:\n" + self.notify.summary())
        if self.procs:
            parts.append(self.procs[-1].log_tail())
        self.keep = True
        return "\n".join(parts)

    def cleanup(self):
        if getattr(self, "_cleaned", False):
            return
        self._cleaned = True
        for g in self.procs:
            g.kill()
        if self.fake:
            self.fake.stop()
        self.notify.close()
        if self.tap.failed or getattr(self, "keep", False) or \
                os.environ.get("GISTD_TEST_KEEP"):
            print("# kept %s" % self.dir, flush=True)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- settings --------------------------------------------------------

    def settings(self, **over):
        base = {
            "inbox": self.inbox,
            "outbox": self.outbox,
            "failed_dir": self.failed,
            "workers": 4,
            "prompt": PROMPT,
            "provider": "openai",
            "api": {
                "base_url": self.fake.url if self.fake
                else "http://127.0.0.1:9/v1",
                "key_file": self.key_file,
                "model": "fake-model",
                "max_tokens": 50,
                "timeout": 10.0 * SCALE,
                # A TLS handshake under valgrind can take over a second.
                "connect_timeout": 2.0 * SCALE,
            },
            "retry": {
                "initial_delay": 0.05,
                "max_delay": 0.5,
                "max_age": 120.0,
            },
            "limits": {
                "shutdown_timeout": 3.0,
            },
        }
        if os.path.isdir(self.done):
            base["done_dir"] = self.done
        return _merge(base, over)

    def write_conf(self, path=None, **over):
        """Write gistd.conf (defaults merged with over); its path."""
        path = path or os.path.join(self.dir, "gistd.conf")
        with open(path, "w") as f:
            f.write(conf_text(self.settings(**over)))
        self.conf_path = path
        return path

    # -- running ---------------------------------------------------------

    def env(self, notify=True, extra=None):
        env = {k: v for k, v in os.environ.items() if k not in _SCRUB_ENV}
        env["LC_ALL"] = "C.UTF-8"
        if notify:
            env["NOTIFY_SOCKET"] = self.notify.path
        if extra:
            for k, v in extra.items():
                if v is None:
                    env.pop(k, None)
                else:
                    env[k] = v
        return env

    def spawn(self, *args, conf=True, notify=True, env=None, preexec=None):
        """Start gistd [-c CONF] ARGS; a Gistd.  preexec runs in the child
        just before the exec (see subprocess.Popen's preexec_fn)."""
        argv = [GISTD_BIN]
        if conf is True:
            if self.conf_path is None:
                self.write_conf()
            argv += ["-c", self.conf_path]
        elif conf:
            argv += ["-c", conf]
        argv += list(args)
        g = Gistd(self.dir, argv, self.env(notify, env), preexec)
        self.procs.append(g)
        return g

    def start(self, *args, env=None, ready_timeout=10.0):
        """Start the daemon and wait for READY=1 from its pid.

        Bails out if it never gets ready: nothing else can be checked then.
        """
        since = self.notify.mark()
        g = self.spawn(*args, env=env)
        msg = self.notify.wait(lambda m: m.fields.get("READY") == "1",
                               ready_timeout, since)
        if msg is None:
            self.tap.ok(False, "gistd sends READY=1 after starting")
            self.cleanup()
            self.tap.bail_out("gistd did not get ready")
        g.ready_msg = msg
        return g

    def run(self, *args, conf=True, timeout=30.0, env=None, notify=True):
        """Run gistd to its end; (exit status or None, stderr, stdout)."""
        g = self.spawn(*args, conf=conf, env=env, notify=notify)
        rc = g.wait(timeout)
        if rc is None:
            g.kill()
        return rc, g.log(), g.stdout()

    # -- files -----------------------------------------------------------

    def path(self, directory, name):
        return os.path.join(b(directory), b(name))

    def drop(self, name, data, directory=None):
        """Create a file in the inbox with one write and a close."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        p = self.path(directory or self.inbox, name)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        return p

    def move_in(self, name, data):
        """Write a file elsewhere, then rename it into the inbox."""
        tmp = self.drop(name, data, self.staging)
        dst = self.path(self.inbox, name)
        os.rename(tmp, dst)
        return dst

    def summary_path(self, name):
        return self.path(self.outbox, b(name) + b".summary")

    def read_summary(self, name):
        try:
            with open(self.summary_path(name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def wait_summary(self, name, timeout=10.0):
        """The summary's bytes once it exists, else None at the deadline."""
        return wait_for(lambda: self.read_summary(name), timeout) or None

    def wait_summaries(self, names, timeout=20.0):
        """True when every name has a summary before the deadline."""
        return wait_for(lambda: all(os.path.exists(self.summary_path(n))
                                    for n in names), timeout, 0.02)

    def exists(self, directory, name):
        return os.path.lexists(self.path(directory, name))

    def read(self, directory, name):
        with open(self.path(directory, name), "rb") as f:
            return f.read()

    def wait_failed(self, name, timeout=10.0):
        """The .error text once NAME and NAME.error are in failed/."""
        def both():
            if not self.exists(self.failed, name):
                return None
            try:
                return self.read(self.failed, b(name) + b".error")
            except FileNotFoundError:
                return None
        return wait_for(both, timeout) or None

    def listdir(self, directory):
        return sorted(os.listdir(b(directory)))

    def temporaries(self):
        return [n for n in self.listdir(self.outbox)
                if n.startswith(b".gistd-")]

    # -- the fake ----------------------------------------------------------

    def requests_for(self, marker):
        return self.fake.requests(marker)


def expected_text(data, max_chars=2000):
    """The text gistd should send for file contents data."""
    return data.decode("utf-8")[:max_chars]


def summary_for(data, max_chars=2000):
    """The exact summary file contents for an input's bytes."""
    return expected_file_summary(expected_text(data, max_chars)).encode()


def control(url, method, path, obj=None):
    """Talk to a fake provider's control API over HTTP (for other tools)."""
    import http.client
    from urllib.parse import urlsplit
    u = urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    body = json.dumps(obj).encode() if obj is not None else None
    c.request(method, path, body=body,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data) if data else None


__all__ = ["Scenario", "Tap", "Notify", "Gistd", "wait_for", "timeout",
           "escape_name", "expected_file_summary", "summary_for",
           "expected_text", "conf_text", "control", "GISTD_BIN", "PROMPT",
           "FakeProvider", "fake_provider", "errno"]

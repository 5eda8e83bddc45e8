# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The gistd authors
"""Helpers for the tests in this directory, which check gistd against a
real notify socket, a real systemd-journald and a real systemd (PID 1 of
a throw-away container).  See /work/shared/SYSTEMD-TESTING.md for why
they are done this way on machines whose PID 1 is not systemd.

Only the standard library and tests/fake_provider.py are used.  Every
wait has a deadline (GISTD_TEST_TIMEOUT_SCALE multiplies them all); no
fixed sleep stands in for an event.  A test that cannot run here prints
"1..0 # SKIP reason" and exits with GISTD_TEST_SKIP_STATUS (77 unless
set; automake's tap-driver.sh wants 0).
"""

import os
import re
import secrets
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
sys.path.insert(0, os.path.join(TOP, "tests"))

import fake_provider  # noqa: E402
from fake_provider import FakeProvider, expected_file_summary  # noqa: E402

GISTD_BIN = os.environ.get("GISTD_BIN") or os.path.join(TOP, "src", "gistd")
SRCDIR = os.environ.get("GISTD_SRCDIR") or TOP
SCALE = float(os.environ.get("GISTD_TEST_TIMEOUT_SCALE", "1") or "1")
SKIP_STATUS = int(os.environ.get("GISTD_TEST_SKIP_STATUS", "77") or "77")
PROMPT = "Summarize the following text in one sentence:"

# Variables that would change gistd's behaviour behind the test's back.
SCRUB_ENV = ("OPENAI_API_KEY", "JOURNAL_STREAM", "NOTIFY_SOCKET",
             "CREDENTIALS_DIRECTORY", "WATCHDOG_USEC", "WATCHDOG_PID",
             "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "INVOCATION_ID",
             "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
             "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY",
             "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


def timeout(seconds):
    return seconds * SCALE


def wait_for(predicate, seconds=10.0, interval=0.01):
    """Calls predicate until it returns something true or the deadline
    passes; returns its last value."""
    deadline = time.monotonic() + seconds * SCALE
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in SCRUB_ENV}
    env["LC_ALL"] = "C.UTF-8"
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def new_key():
    """An API key no log line could contain by chance."""
    return "sk-test-" + secrets.token_hex(16)


def msgids(path=None):
    """The MESSAGE_IDs of src/msgid.h: {"MSGID_STARTED": "2f1c...", ...}."""
    path = path or os.path.join(SRCDIR, "src", "msgid.h")
    with open(path) as f:
        return dict(re.findall(r'#define\s+(MSGID_\w+)\s+"([0-9a-f]{32})"',
                               f.read()))


# -- TAP ----------------------------------------------------------------------

class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0
        self.on_failure = []
        self.t0 = time.monotonic()

    def diag(self, text):
        for line in str(text).splitlines() or [""]:
            print("# " + line, flush=True)

    def ok(self, cond, desc, *diag):
        self.n += 1
        desc = desc.replace("#", "\\#").replace("\n", " ")
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, desc),
              flush=True)
        if not cond:
            self.failed += 1
            for d in diag:
                self.diag(d)
            for fn in self.on_failure:
                try:
                    self.diag(fn())
                except Exception as e:  # diagnostics never hide a result
                    self.diag("(diagnostics failed: %r)" % e)
        return bool(cond)

    def is_(self, got, expected, desc, *diag):
        return self.ok(got == expected, desc, "got:      %r" % (got,),
                       "expected: %r" % (expected,), *diag)

    def like(self, text, regex, desc, *diag):
        m = re.search(regex, text or "", re.M)
        return self.ok(m is not None, desc, "no match for /%s/ in:" % regex,
                       *("  " + ln for ln in (text or "").splitlines()[-20:]),
                       *diag)

    def timing(self, what, seconds):
        self.diag("timing: %s %.3f s" % (what, seconds))

    def skip_all(self, reason):
        print("1..0 # SKIP %s" % reason, flush=True)
        sys.exit(SKIP_STATUS)

    def done(self):
        self.diag("total %.1f s" % (time.monotonic() - self.t0))
        print("1..%d" % self.n, flush=True)
        return 1 if self.failed else 0


# -- sd_notify ----------------------------------------------------------------

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


class Message:
    """One datagram: sender pid, kernel receive time (CLOCK_REALTIME, for
    gaps), CLOCK_MONOTONIC in µs when the test read it, text, fields."""

    def __init__(self, pid, ktime, mono_us, raw):
        self.pid = pid
        self.ktime = ktime
        self.mono_us = mono_us
        self.raw = raw
        self.fields = {}
        for line in raw.split("\n"):
            k, sep, v = line.partition("=")
            if sep:
                self.fields[k] = v

    def __repr__(self):
        return "<%r pid=%r>" % (self.raw, self.pid)


class Notify:
    """An AF_UNIX datagram socket standing in for systemd's notify socket,
    with SO_PASSCRED so each message names its sender."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind(self.path)
        self.messages = []
        self._cond = threading.Condition()
        self._rfd, self._wfd = os.pipe()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        import select
        space = socket.CMSG_SPACE(12) + socket.CMSG_SPACE(16)
        while True:
            r, _, _ = select.select([self.sock, self._rfd], [], [])
            if self._rfd in r:
                return
            try:
                data, anc, _, _ = self.sock.recvmsg(65536, space)
            except OSError:
                return
            mono_us = time.monotonic_ns() // 1000
            pid, ktime = None, time.time()
            for level, kind, cdata in anc:
                if level != socket.SOL_SOCKET:
                    continue
                if kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", cdata[:12])[0]
                elif kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", cdata[:16])
                    ktime = sec + nsec / 1e9
            msg = Message(pid, ktime, mono_us,
                          data.decode("utf-8", "backslashreplace"))
            with self._cond:
                self.messages.append(msg)
                self._cond.notify_all()

    def close(self):
        os.write(self._wfd, b"x")
        self._thread.join(5)
        self.sock.close()
        os.close(self._rfd)
        os.close(self._wfd)

    def mark(self):
        with self._cond:
            return len(self.messages)

    def since(self, index=0):
        with self._cond:
            return list(self.messages[index:])

    def find(self, key, value=None, since=0):
        return [m for m in self.since(since) if key in m.fields and
                (value is None or m.fields[key] == value)]

    def wait(self, predicate, seconds=10.0, since=0):
        """The first message at index >= since satisfying predicate, or
        None at the deadline."""
        deadline = time.monotonic() + seconds * SCALE
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

    def wait_field(self, key, value=None, seconds=10.0, since=0):
        return self.wait(lambda m: key in m.fields and
                         (value is None or m.fields[key] == value),
                         seconds, since)

    def index_of(self, msg):
        with self._cond:
            for i, m in enumerate(self.messages):
                if m is msg:
                    return i
        return -1

    def summary(self, last=15):
        return "\n".join(repr(m) for m in self.since()[-last:])


# -- libconfig ----------------------------------------------------------------

def _conf_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"')
    if isinstance(v, (list, tuple)):
        return "[ " + ", ".join(_conf_value(x) for x in v) + " ]"
    if isinstance(v, dict):
        return "{\n" + "".join("  %s = %s;\n" % (k, _conf_value(x))
                               for k, x in v.items()) + "}"
    raise TypeError(repr(v))


def conf_text(settings):
    return "".join("%s = %s;\n" % (k, _conf_value(v))
                   for k, v in settings.items())


def write_atomic(path, data, mode=0o644):
    if isinstance(data, str):
        data = data.encode()
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.rename(tmp, path)


def drop(directory, name, data):
    """Creates a file with one write and a close (one IN_CLOSE_WRITE)."""
    if isinstance(data, str):
        data = data.encode()
    fd = os.open(os.path.join(os.fsencode(directory), os.fsencode(name)),
                 os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def summary_for(text):
    """The exact summary the fake's reply to text turns into."""
    return expected_file_summary(text).encode()


# -- processes and namespaces ---------------------------------------------

class Interrupted(BaseException):
    pass


def _interrupted(signo, frame):
    raise Interrupted("signal %d" % signo)


# A test stopped by SIGTERM or SIGHUP still cleans up (its finally runs).
signal.signal(signal.SIGTERM, _interrupted)
signal.signal(signal.SIGHUP, _interrupted)

_pdeath = None


def pdeath():
    """An argv prefix that sends SIGTERM to the command (which keeps its
    pid) when the test dies, even by SIGKILL; empty without setpriv."""
    global _pdeath
    if _pdeath is None:
        argv = ["setpriv", "--pdeathsig", "TERM", "--"]
        try:
            ok = subprocess.run(argv + ["true"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                                timeout=10).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        _pdeath = argv if ok else []
    return list(_pdeath)


def kill_group(proc, sig=signal.SIGKILL, wait=5.0):
    """Kills the process group proc leads (started with
    start_new_session=True) and reaps proc."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        pass


NS_MARK = "GISTD_TEST_IN_MOUNT_NS"


def reexec_in_mount_namespace(tap):
    """Runs this script again inside "unshare --mount --propagation
    private", so that what it mounts goes away with it; skips the test
    when that is impossible here.  Returns in the new namespace."""
    if os.environ.get(NS_MARK) == "1":
        return
    if os.geteuid() != 0:
        tap.skip_all("needs root (mount namespace, tmpfs mounts)")
    try:
        probe = subprocess.run(["unshare", "--mount", "--propagation",
                                "private", "true"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=20)
        if probe.returncode != 0:
            tap.skip_all("unshare --mount fails here: %s" %
                         probe.stdout.decode(errors="replace").strip())
    except (OSError, subprocess.TimeoutExpired) as e:
        tap.skip_all("unshare is not usable here: %s" % e)
    env = dict(os.environ)
    env[NS_MARK] = "1"
    sys.stdout.flush()
    os.execvpe("unshare", ["unshare", "--mount", "--propagation", "private",
                           "--", sys.executable, "-B",
                           os.path.abspath(sys.argv[0])] + sys.argv[1:], env)


def mount(*args):
    subprocess.run(["mount"] + list(args), check=True, timeout=20,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def mkdtemp(tag):
    return tempfile.mkdtemp(prefix="gistd-%s-" % tag)

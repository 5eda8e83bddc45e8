#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The gistd authors
"""A fast, scriptable fake of an OpenAI-compatible chat-completions API.

Run as a program:

    fake_provider.py --port 0 --port-file F [--latency-ms L]
                     [--tls-cert C --tls-key K]

or import it:

    fp = FakeProvider(latency_ms=0).start()
    ... fp.url ...            # "http://127.0.0.1:PORT/v1"
    fp.stop()

It listens on 127.0.0.1 only, speaks HTTP/1.1 with keep-alive (every
response has a Content-Length) so that a client's connection reuse can be
observed, and counts the TCP connections it accepted.

POST /v1/chat/completions answers with a deterministic summary of the
user text (the part of the last user message after its first blank line):
see summary_of() and expected_file_summary().  Every chat request is
recorded: monotonic time, method, path, headers, parsed body, user text,
connection id.

Faults come from two places, checked in this order for each chat request:

1. rules: {"match": SUBSTRING, "times": N, ...fault...}; a request whose
   user text contains SUBSTRING (any request if "match" is missing or
   null) takes the fault, N times (forever if "times" is missing or null);
   the first rule that matches and has times left wins;
2. the queue: faults applied to the next requests, first in, first out.

A fault is a dict:

    {"status": 503}                        status with an OpenAI error body
    {"status": 400, "error": {"message": "...", "type": "...", "code": ...}}
    {"status": 429, "headers": {"Retry-After": "1"}}
    {"status": 200, "content": "reply text"}      a normal reply, other text
    {"kind": "cut"}        headers promise more than is sent, then close
    {"kind": "reset"}      close abruptly (SO_LINGER 0: RST)
    {"kind": "stall", "seconds": S}   wait S (at most 60) then reply normally
                                      (or with "status" if given)
    {"kind": "hold"}       wait until release() (at most 60 s), then as stall
    {"kind": "malformed"}  200 with a body that is not JSON
    {"kind": "huge", "mb": N}         200 with N MB of body, in chunks
    {"kind": "close"}      reply normally, then close the connection
    {"latency_ms": L}      may be added to any fault: wait L ms first

Control API, on the same port (not recorded as requests):

    GET  /control/requests   {"connections": N, "requests": [...]}
                             (connections: accepted since start or reset)
    GET  /control/stats      {"connections": N, "requests": N,
                              "in_flight": N, "max_in_flight": N}
    POST /control/script     {"rules": [...], "queue": [...]} (or one rule)
    POST /control/reset      clear log, rules, queue and counters
    POST /control/latency    {"latency_ms": L}
    POST /control/release    let held requests go on
"""

import argparse
import hashlib
import json
import os
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time

STALL_MAX_SECONDS = 60.0
HUGE_MAX_MB = 1024
HEADER_MAX_BYTES = 65536
BODY_MAX_BYTES = 64 * 1024 * 1024

REASONS = {
    100: "Continue", 200: "OK", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 409: "Conflict", 413: "Payload Too Large",
    422: "Unprocessable Entity", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}

ERROR_TYPES = {
    400: "invalid_request_error", 401: "invalid_request_error",
    403: "permission_error", 404: "invalid_request_error",
    413: "invalid_request_error", 422: "invalid_request_error",
    429: "rate_limit_error",
}


def user_text_of(content):
    """The text part of a user message: what follows the first blank line."""
    if not isinstance(content, str):
        return None
    head, sep, tail = content.partition("\n\n")
    return tail if sep else content


def summary_of(text):
    """The summary line (without surrounding white space) for a text."""
    digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()
    return "SUMMARY: " + digest[:12]


def expected_file_summary(text):
    """What gistd must write in NAME.summary for a request carrying text."""
    return summary_of(text) + "\n"


def reply_content(text):
    """The reply text: the summary wrapped in white space to be trimmed."""
    return "  \n\t" + summary_of(text) + " \n\n"


class _Closed(Exception):
    pass


class _Handler(socketserver.BaseRequestHandler):
    """One TCP connection: a loop of requests until the peer goes away."""

    def setup(self):
        fake = self.server.fake
        self.fake = fake
        sock = self.request
        self.conn_id = fake._connection_opened(sock)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if isinstance(sock, ssl.SSLSocket):
            sock.settimeout(10)
            sock.do_handshake()
            sock.settimeout(None)
        self.rfile = sock.makefile("rb", buffering=65536)

    def finish(self):
        try:
            self.rfile.close()
        except OSError:
            pass
        self.fake._connection_closed(self.request)

    def handle(self):
        try:
            while not self.fake._stopping.is_set():
                if not self._one_request():
                    break
        except (_Closed, OSError, ssl.SSLError, ValueError):
            pass

    # -- parsing ---------------------------------------------------------

    def _read_head(self):
        line = self.rfile.readline(HEADER_MAX_BYTES)
        if not line:
            raise _Closed()
        while line in (b"\r\n", b"\n"):  # tolerate stray CRLF between requests
            line = self.rfile.readline(HEADER_MAX_BYTES)
            if not line:
                raise _Closed()
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3:
            raise _Closed()
        method, target, version = parts
        headers = {}
        total = 0
        while True:
            h = self.rfile.readline(HEADER_MAX_BYTES)
            total += len(h)
            if not h or total > HEADER_MAX_BYTES:
                raise _Closed()
            if h in (b"\r\n", b"\n"):
                break
            name, _, value = h.decode("latin-1").partition(":")
            key = name.strip().lower()
            value = value.strip()
            if key in headers:
                headers[key] += ", " + value
            else:
                headers[key] = value
        return method, target, version, headers

    def _read_body(self, headers):
        if headers.get("expect", "").lower() == "100-continue":
            self.request.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            size = 0
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise _Closed()
                n = int(line.split(b";")[0].strip(), 16)
                if n == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n",
                                                            b""):
                        pass
                    break
                size += n
                if size > BODY_MAX_BYTES:
                    raise _Closed()
                chunks.append(self._read_exact(n))
                self.rfile.readline(1024)
            return b"".join(chunks)
        n = int(headers.get("content-length", "0") or "0")
        if n < 0 or n > BODY_MAX_BYTES:
            raise _Closed()
        return self._read_exact(n)

    def _read_exact(self, n):
        data = self.rfile.read(n) if n else b""
        if len(data) != n:
            raise _Closed()
        return data

    # -- responses -------------------------------------------------------

    def _send(self, status, body, headers=None, keep_alive=True,
              content_type="application/json", length=None):
        reason = REASONS.get(status, "Status")
        lines = ["HTTP/1.1 %d %s" % (status, reason),
                 "Content-Type: " + content_type,
                 "Content-Length: %d" % (len(body) if length is None
                                         else length)]
        if not keep_alive:
            lines.append("Connection: close")
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.request.sendall(head + body)

    def _send_json(self, status, obj, headers=None, keep_alive=True):
        body = json.dumps(obj).encode("utf-8")
        self._send(status, body, headers, keep_alive)

    def _one_request(self):
        method, target, version, headers = self._read_head()
        body = self._read_body(headers)
        keep_alive = version == "HTTP/1.1" and \
            headers.get("connection", "").lower() != "close"
        path = target.split("?", 1)[0]
        if path.startswith("/control/"):
            self._control(method, path, body, keep_alive)
        elif path.endswith("/chat/completions"):
            keep_alive = self._chat(method, target, headers, body,
                                    keep_alive)
        elif path.endswith("/models") and method == "GET":
            self._send_json(200, {"object": "list", "data": [
                {"id": "fake-model", "object": "model"}]},
                keep_alive=keep_alive)
        else:
            self._send_json(404, {"error": {
                "message": "Unknown path %s" % path,
                "type": "invalid_request_error", "code": None}},
                keep_alive=keep_alive)
        return keep_alive

    def _control(self, method, path, body, keep_alive):
        fake = self.fake
        try:
            arg = json.loads(body) if body else None
        except ValueError:
            self._send_json(400, {"error": "bad JSON"}, keep_alive=keep_alive)
            return
        if method == "GET" and path == "/control/requests":
            out = {"connections": fake.connections,
                   "requests": fake.requests()}
        elif method == "GET" and path == "/control/stats":
            out = {"connections": fake.connections,
                   "requests": fake.request_count(),
                   "in_flight": fake.in_flight,
                   "max_in_flight": fake.max_in_flight}
        elif method == "POST" and path == "/control/script":
            if isinstance(arg, list):
                arg = {"rules": arg}
            elif isinstance(arg, dict) and "rules" not in arg and \
                    "queue" not in arg:
                arg = {"rules": [arg]}
            for r in arg.get("rules", []):
                fake.add_rule(**r)
            for q in arg.get("queue", []):
                fake.enqueue(**q)
            out = {"ok": True}
        elif method == "POST" and path == "/control/release":
            fake.release()
            out = {"ok": True}
        elif method == "POST" and path == "/control/reset":
            fake.reset()
            out = {"ok": True}
        elif method == "POST" and path == "/control/latency":
            fake.latency_ms = float(arg.get("latency_ms", 0))
            out = {"ok": True}
        else:
            self._send_json(404, {"error": "unknown control " + path},
                            keep_alive=keep_alive)
            return
        self._send_json(200, out, keep_alive=keep_alive)

    def _chat(self, method, target, headers, raw, keep_alive):
        self.fake._enter()
        try:
            return self._chat_inner(method, target, headers, raw, keep_alive)
        finally:
            self.fake._leave()

    def _chat_inner(self, method, target, headers, raw, keep_alive):
        fake = self.fake
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            body = None
        user_text = None
        system = None
        if isinstance(body, dict) and isinstance(body.get("messages"), list):
            for m in body["messages"]:
                if not isinstance(m, dict):
                    continue
                if m.get("role") == "user":
                    user_text = user_text_of(m.get("content"))
                elif m.get("role") == "system":
                    system = m.get("content")
        rec = {
            "time": time.monotonic(), "method": method, "path": target,
            "headers": headers, "body": body, "raw_length": len(raw),
            "user_text": user_text, "system": system,
            "connection": self.conn_id,
        }
        fault = fake._record_and_pick(rec)

        if method != "POST":
            self._send_json(405, {"error": {"message": "Use POST",
                                            "type": "invalid_request_error",
                                            "code": None}},
                            keep_alive=keep_alive)
            return keep_alive
        if body is None or user_text is None:
            self._send_json(400, {"error": {
                "message": "Could not parse the request body",
                "type": "invalid_request_error", "code": None}},
                keep_alive=keep_alive)
            return keep_alive

        fault = fault or {}
        latency = fault.get("latency_ms", fake.latency_ms)
        if latency:
            if fake._stopping.wait(latency / 1000.0):
                return False
        kind = fault.get("kind")
        status = int(fault.get("status", 200))
        extra = dict(fault.get("headers") or {})

        if kind == "stall":
            secs = min(float(fault.get("seconds", 5)), STALL_MAX_SECONDS)
            if fake._stopping.wait(secs):
                return False
        elif kind == "hold":
            deadline = time.monotonic() + STALL_MAX_SECONDS
            with fake._cond:
                gen = fake._release_gen
                while fake._release_gen == gen and \
                        not fake._stopping.is_set() and \
                        time.monotonic() < deadline:
                    fake._cond.wait(0.5)
            if fake._stopping.is_set():
                return False
        elif kind == "reset":
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
            self.request.close()
            raise _Closed()
        elif kind == "malformed":
            self._send(200, b'{"id": "x", "choices": [ {"message": ', extra,
                       keep_alive)
            return keep_alive
        elif kind == "huge":
            self._send_huge(float(fault.get("mb", 16)), extra)
            return False

        if status != 200:
            if "body" in fault:
                payload = fault["body"]
                payload = payload.encode() if isinstance(payload, str) \
                    else payload
                self._send(status, payload, extra, keep_alive)
            else:
                err = fault.get("error") or {
                    "message": "Fake error %d" % status,
                    "type": ERROR_TYPES.get(status, "server_error"),
                    "code": None}
                self._send_json(status, {"error": err}, extra, keep_alive)
            return keep_alive

        content = fault.get("content")
        if content is None:
            content = reply_content(user_text)
        prompt_tokens = max(1, len(raw) // 4)
        completion_tokens = max(1, len(content) // 4)
        usage = fault.get("usage", {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens})
        reply = {
            "id": "chatcmpl-fake-%d" % rec["seq"],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [{"index": 0,
                         "message": {"role": "assistant",
                                     "content": content},
                         "finish_reason": "stop"}],
        }
        if usage is not None:
            reply["usage"] = usage
        payload = json.dumps(reply).encode("utf-8")
        if kind == "cut":
            self._send(200, payload[: len(payload) // 2], extra,
                       keep_alive, length=len(payload) + 100)
            self.request.shutdown(socket.SHUT_RDWR)
            raise _Closed()
        if kind == "close":
            self._send(200, payload, extra, keep_alive=False)
            return False
        self._send(200, payload, extra, keep_alive)
        return keep_alive

    def _send_huge(self, mb, extra):
        mb = min(mb, HUGE_MAX_MB)
        total = int(mb * 1024 * 1024)
        head = b'{"id":"huge","object":"chat.completion","choices":[{' \
            b'"index":0,"message":{"role":"assistant","content":"'
        tail = b'"},"finish_reason":"stop"}]}'
        fill = total - len(head) - len(tail)
        if fill < 0:
            fill = 0
        self._send(200, head, extra, keep_alive=False,
                   length=len(head) + fill + len(tail))
        chunk = b"a" * 65536
        left = fill
        self.request.settimeout(10)
        try:
            while left > 0 and not self.fake._stopping.is_set():
                n = min(left, len(chunk))
                self.request.sendall(chunk[:n])
                left -= n
            self.request.sendall(tail)
        except OSError:
            pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, fake, addr, tls_context):
        self.fake = fake
        self.tls_context = tls_context
        super().__init__(addr, _Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.tls_context is not None:
            sock = self.tls_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        pass  # a client that goes away is not news


class FakeProvider:
    """The fake as an object; see the module docstring."""

    def __init__(self, port=0, latency_ms=0, tls_cert=None, tls_key=None):
        self._port = port
        self.latency_ms = latency_ms
        self._tls = None
        if tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls_cert, tls_key)
            self._tls = ctx
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._log = []
        self._rules = []
        self._queue = []
        self._seq = 0
        self._conn_seq = 0
        self.connections = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._open = set()
        self._stopping = threading.Event()
        self._release_gen = 0
        self._server = None
        self._thread = None

    # -- life ------------------------------------------------------------

    def start(self):
        self._server = _Server(self, ("127.0.0.1", self._port), self._tls)
        self.port = self._server.server_address[1]
        scheme = "https" if self._tls else "http"
        self.url = "%s://127.0.0.1:%d/v1" % (scheme, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="fake-provider", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            socks = list(self._open)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _connection_opened(self, sock):
        with self._lock:
            self._conn_seq += 1
            self.connections += 1
            self._open.add(sock)
            return self._conn_seq

    def _enter(self):
        with self._lock:
            self.in_flight += 1
            if self.in_flight > self.max_in_flight:
                self.max_in_flight = self.in_flight

    def _leave(self):
        with self._lock:
            self.in_flight -= 1

    def _connection_closed(self, sock):
        with self._lock:
            self._open.discard(sock)

    # -- scripting -------------------------------------------------------

    def add_rule(self, match=None, times=None, **fault):
        """Give fault to requests whose user text contains match."""
        with self._lock:
            self._rules.append({"match": match, "times": times,
                                "fault": fault, "hits": 0})

    def enqueue(self, **fault):
        """Give fault to the next request not taken by a rule."""
        with self._lock:
            self._queue.append(fault)

    def release(self):
        """Let every request held by a "hold" fault go on."""
        with self._cond:
            self._release_gen += 1
            self._cond.notify_all()

    def clear_faults(self):
        with self._lock:
            self._rules.clear()
            self._queue.clear()

    def reset(self):
        with self._lock:
            self._rules.clear()
            self._queue.clear()
            self._log.clear()
            self.connections = 0
            self.max_in_flight = self.in_flight

    def _record_and_pick(self, rec):
        with self._cond:
            self._seq += 1
            rec["seq"] = self._seq
            fault = None
            text = rec["user_text"] or ""
            for r in self._rules:
                if r["match"] is not None and r["match"] not in text:
                    continue
                if r["times"] is not None and r["hits"] >= r["times"]:
                    continue
                r["hits"] += 1
                fault = r["fault"]
                break
            if fault is None and self._queue:
                fault = self._queue.pop(0)
            rec["fault"] = fault
            self._log.append(rec)
            self._cond.notify_all()
            return fault

    # -- observing -------------------------------------------------------

    def requests(self, match=None):
        """Copies of the recorded chat requests (user text contains match)."""
        with self._lock:
            log = list(self._log)
        if match is not None:
            log = [r for r in log if r["user_text"] and match in r["user_text"]]
        return log

    def request_count(self, match=None):
        if match is None:
            with self._lock:
                return len(self._log)
        return len(self.requests(match))

    def last_seq(self):
        """The "seq" of the latest chat request (0 before any); unlike
        request_count(), it keeps growing across reset()."""
        with self._lock:
            return self._seq

    def open_connections(self):
        """How many client connections the fake still holds open."""
        with self._lock:
            return len(self._open)

    def wait_idle(self, timeout):
        """Wait until no connection is open and no request is being
        answered: everything a client that went away had sent is recorded.
        True if so before the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if not self._open and self.in_flight == 0:
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)

    def wait_requests(self, n, timeout, match=None):
        """Wait until at least n requests (matching) arrived; True if so."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if match is None:
                    count = len(self._log)
                else:
                    count = sum(1 for r in self._log if r["user_text"] and
                                match in r["user_text"])
                if count >= n:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--latency-ms", type=float, default=0)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    args = ap.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")

    fake = FakeProvider(args.port, args.latency_ms, args.tls_cert,
                        args.tls_key).start()
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % fake.port)
        os.rename(tmp, args.port_file)
    else:
        print(fake.port, flush=True)

    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *a: done.set())
    while not done.wait(3600):
        pass
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Hardware in the loop: ``course-lib agent`` on the edge device, :class:`RemoteDevice` on the laptop.

The agent serves one endpoint, ``POST /benchmark``: the body is an ONNX or TFLite file (the
only formats accepted: they are data, parsed and checked, never pickles or code), the query
string holds the benchmark options, ``Authorization: Bearer TOKEN`` the shared token. Each job
runs in a fresh process that is killed after ``job_timeout_s``; jobs run one at a time so they do
not disturb each other's timing; results are cached by the file's SHA-256 and the options.
The agent binds 127.0.0.1 unless told otherwise (reach it through an SSH tunnel).

Status codes: 200 report, 400 bad option, 401 wrong/missing token, 411 no length, 413 too large,
415 not an ONNX/TFLite model, 422 an ONNX model that references external data files,
503 backend unavailable, 504 job timed out, 500 job failed.

A connection that sends nothing for ``idle_timeout_s`` is closed, so an idle client cannot hold
a server thread; the result cache keeps the ``max_cached_results`` most recently used reports.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing as mp
import os
import secrets
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .export import FORMAT_BACKENDS, onnx_external_data, sniff_format

DEFAULT_PORT = 8765
DEFAULT_MAX_BYTES = 64 * 2 ** 20
DEFAULT_JOB_TIMEOUT_S = 120.0
DEFAULT_IDLE_TIMEOUT_S = 30.0
DEFAULT_MAX_CACHED_RESULTS = 256
# Options a client may set, with their types; anything else is a 400, so a request cannot reach
# arbitrary keyword arguments of the backends.
PARAMS = {"backend": str, "scenario": str, "batch_size": int, "threads": int, "warmup_s": float,
          "min_duration_s": float, "min_iters": int, "max_duration_s": float, "target_rel_iqr": float,
          "server_load": float, "provider": str, "xnnpack": bool, "precision": str, "dla_core": int,
          "timeout_s": float}


def _parse_params(query: str) -> dict:
    out = {}
    for key, values in urllib.parse.parse_qs(query, keep_blank_values=True).items():
        if key not in PARAMS:
            raise ValueError(f"unknown option {key!r}; allowed: {', '.join(sorted(PARAMS))}")
        raw, typ = values[-1], PARAMS[key]
        try:
            if typ is bool:
                if raw.lower() not in ("1", "0", "true", "false"):
                    raise ValueError
                out[key] = raw.lower() in ("1", "true")
            else:
                out[key] = typ(raw)
        except ValueError:
            raise ValueError(f"option {key}={raw!r} is not a valid {typ.__name__}") from None
    return out


def _job(path: str, options: dict, conn) -> None:
    """Runs in the child process: benchmark one file, send back ``(status, payload)``."""
    try:
        from .backends import BackendUnavailable
        from .harness import benchmark

        try:
            report = benchmark(path, **options)
            conn.send((200, report.to_dict()))
        except BackendUnavailable as e:
            conn.send((503, {"error": str(e), "reason": e.reason, "install_hint": e.install_hint}))
        except (ValueError, TypeError) as e:
            conn.send((400, {"error": str(e)}))
    except Exception as e:  # noqa: BLE001 - report any failure to the client instead of hanging
        conn.send((500, {"error": f"{type(e).__name__}: {e}"}))
    finally:
        conn.close()


class Agent:
    """The agent's state: token, limits, result cache, and the one-job-at-a-time lock."""

    def __init__(self, token: str, max_bytes: int = DEFAULT_MAX_BYTES, job_timeout_s: float = DEFAULT_JOB_TIMEOUT_S,
                 workdir=None, max_cached_results: int = DEFAULT_MAX_CACHED_RESULTS):
        if not token or len(token) < 8:
            raise ValueError("the agent token must be at least 8 characters (or let the agent generate one)")
        if max_bytes < 1 or job_timeout_s <= 0 or max_cached_results < 0:
            raise ValueError("max_bytes and job_timeout_s must be positive, max_cached_results >= 0")
        self.token, self.max_bytes, self.job_timeout_s = token, int(max_bytes), float(job_timeout_s)
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="course-lib-agent-"))
        self.cache: OrderedDict[str, dict] = OrderedDict()  # least recently used first
        self.max_cached_results = int(max_cached_results)
        self.lock = threading.Lock()
        self.jobs_run = 0

    def authorized(self, header: str | None) -> bool:
        given = (header or "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), self.token.encode())  # constant time

    def run(self, data: bytes, fmt: str, options: dict) -> tuple[int, dict]:
        timeout = min(self.job_timeout_s, options.pop("timeout_s", self.job_timeout_s))
        options.setdefault("backend", FORMAT_BACKENDS[fmt][0])
        if options["backend"] not in FORMAT_BACKENDS[fmt]:
            return 400, {"error": f"a {fmt} model runs on {' or '.join(FORMAT_BACKENDS[fmt])}, "
                                  f"not backend={options['backend']!r}"}
        digest = hashlib.sha256(data).hexdigest()
        key = digest + json.dumps(options, sort_keys=True)
        with self.lock:
            hit = self._recall(key)
            if hit is not None:
                return 200, {**hit, "cached": True, "model_sha256": digest}
            path = self.workdir / f"{digest}.{fmt}"
            path.write_bytes(data)
            ctx = mp.get_context("spawn")  # a clean interpreter: no state shared with the server's threads
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_job, args=(str(path), dict(options), child), daemon=True)
            proc.start()
            child.close()
            try:
                if not parent.poll(timeout):
                    proc.kill()
                    return 504, {"error": f"the benchmark job exceeded the {timeout:g} s limit and was stopped"}
                status, payload = parent.recv()
            except EOFError:
                return 500, {"error": f"the benchmark process died (exit code {proc.exitcode})"}
            finally:
                proc.join(5)
                if proc.is_alive():
                    proc.kill()
                path.unlink(missing_ok=True)
            self.jobs_run += 1
            if status == 200:
                self._remember(key, payload)
            return status, {**payload, "cached": False, "model_sha256": digest} if status == 200 else payload


    def _recall(self, key: str) -> dict | None:
        if key not in self.cache:
            return None
        self.cache.move_to_end(key)  # now the most recently used
        return self.cache[key]

    def _remember(self, key: str, payload: dict) -> None:
        self.cache[key] = payload
        while len(self.cache) > self.max_cached_results:
            self.cache.popitem(last=False)  # the least recently used report


class _Handler(BaseHTTPRequestHandler):
    """One request; the server carries the :class:`Agent` (``server.agent``)."""
    server_version = "course-lib-agent/1"

    def setup(self):
        self.timeout = self.server.idle_timeout_s  # socket timeout of each read: an idle client is dropped
        super().setup()

    def log_message(self, fmt, *args):  # quiet by default; the CLI turns it on
        if getattr(self.server, "verbose", False):
            super().log_message(fmt, *args)

    def _send(self, status: int, payload: dict):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = urllib.parse.urlparse(self.path).path
        if path == "/health":
            return self._send(200, {"ok": True, "agent": self.server_version})
        if path == "/info":
            if not self.server.agent.authorized(self.headers.get("Authorization")):
                return self._send(401, {"error": "missing or wrong token"})
            from .backends import available_backends
            from .environment import collect

            return self._send(200, {"backends": available_backends(), "environment": collect(),
                                    "max_bytes": self.server.agent.max_bytes,
                                    "job_timeout_s": self.server.agent.job_timeout_s})
        self._send(404, {"error": f"no such endpoint {path}; use GET /health, GET /info, POST /benchmark"})

    def do_POST(self):
        url = urllib.parse.urlparse(self.path)
        if url.path != "/benchmark":
            return self._send(404, {"error": f"no such endpoint {url.path}; use POST /benchmark"})
        # The token is checked before the body is read, so strangers cannot make us read 64 MiB.
        if not self.server.agent.authorized(self.headers.get("Authorization")):
            return self._send(401, {"error": "missing or wrong token"})
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            return self._send(411, {"error": "Content-Length is required"})
        if int(length) > self.server.agent.max_bytes:
            # Discard the body (the client is authenticated) so it reads a clean 413 rather
            # than a broken pipe; nothing of it is kept in memory.
            left = int(length)
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 20))
                if not chunk:
                    break
                left -= len(chunk)
            self.close_connection = True
            return self._send(413, {"error": f"model is {int(length)} bytes; this agent accepts at most "
                                             f"{self.server.agent.max_bytes} bytes"})
        data = self.rfile.read(int(length))
        try:
            options = _parse_params(url.query)
        except ValueError as e:
            return self._send(400, {"error": str(e)})
        external = onnx_external_data(data) if data[4:8] != b"TFL3" else []
        if external:  # the job would open files named by the sender, relative to our workdir
            return self._send(422, {"error": f"the ONNX model references external data files ({', '.join(external)}); "
                                             "send a self-contained model (onnx.save(..., save_as_external_data=False))"})
        fmt = sniff_format(data)
        if fmt is None:
            return self._send(415, {"error": "the body is not an ONNX or TFLite model; only those are accepted"})
        status, payload = self.server.agent.run(data, fmt, options)
        self._send(status, payload)


def make_server(token: str, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *,
                max_bytes: int = DEFAULT_MAX_BYTES, job_timeout_s: float = DEFAULT_JOB_TIMEOUT_S,
                idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S, max_cached_results: int = DEFAULT_MAX_CACHED_RESULTS,
                verbose: bool = False) -> ThreadingHTTPServer:
    """An HTTP server (not yet serving); ``port=0`` picks a free port (``server.server_address``).
    ``idle_timeout_s``: seconds a connection may stay silent before it is closed."""
    if idle_timeout_s <= 0:
        raise ValueError(f"idle_timeout_s must be positive, got {idle_timeout_s}")
    agent = Agent(token, max_bytes, job_timeout_s, max_cached_results=max_cached_results)
    server = ThreadingHTTPServer((host, port), _Handler)
    server.agent, server.verbose, server.idle_timeout_s = agent, verbose, float(idle_timeout_s)
    server.daemon_threads = True
    return server


def serve(token: str | None = None, host: str = "127.0.0.1", port: int = DEFAULT_PORT, **kwargs) -> None:
    """Serve until interrupted. Without ``token`` one is generated and printed."""
    token = token or os.environ.get("COURSE_LIB_AGENT_TOKEN") or secrets.token_urlsafe(24)
    server = make_server(token, host, port, **kwargs)
    h, p = server.server_address[:2]
    print(f"course-lib agent on http://{h}:{p}  token: {token}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        print("warning: listening beyond this machine; anyone who can reach it and knows the token can run jobs")
    try:
        server.serve_forever()
    finally:
        server.server_close()


class RemoteError(RuntimeError):
    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(f"agent answered {status}: {message}")


class RemoteDevice:
    """A benchmark agent seen from the laptop; an evaluator the search toolkit can call.

    ``remote(model)`` returns ``{"latency_ms": p50, "latency_p99_ms", "throughput_per_s", ...}``
    so ``course_lib.search`` can use ``Objective("latency_ms", minimize=True)``. ``model`` is an
    ``.onnx``/``.tflite`` path, its bytes, or a torch module (exported to ONNX here; pass
    ``input_shape``).
    """

    def __init__(self, url: str, token: str, *, backend: str | None = None, timeout_s: float = 300.0, **options):
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {url!r}")
        self.url, self.token, self.timeout_s = url.rstrip("/"), token, timeout_s
        self.options = {**({"backend": backend} if backend else {}), **options}
        bad = set(self.options) - set(PARAMS)
        if bad:
            raise ValueError(f"unknown option(s) {sorted(bad)}; allowed: {', '.join(sorted(PARAMS))}")

    def _request(self, method: str, path: str, body: bytes | None = None) -> dict:
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/octet-stream"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            try:
                msg = json.loads(e.read()).get("error", e.reason)
            except (ValueError, AttributeError):
                msg = str(e.reason)
            raise RemoteError(e.code, msg) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
            raise RemoteError(0, f"cannot talk to the agent at {self.url}: {getattr(e, 'reason', e)}") from None

    def health(self) -> dict:
        return self._request("GET", "/health")

    def info(self) -> dict:
        return self._request("GET", "/info")

    def benchmark(self, model, *, input_shape=None, **options) -> dict:
        """The agent's full report (a dict, as :meth:`Report.to_dict` plus ``cached``, ``model_sha256``)."""
        data = self._bytes(model, input_shape)
        query = urllib.parse.urlencode({k: (str(v).lower() if isinstance(v, bool) else v)
                                        for k, v in {**self.options, **options}.items()})
        return self._request("POST", "/benchmark" + (f"?{query}" if query else ""), data)

    def __call__(self, model, **kwargs) -> dict:
        r = self.benchmark(model, **kwargs)
        return {"latency_ms": r["latency_ms"]["p50"], "latency_p99_ms": r["latency_ms"]["p99"],
                "throughput_per_s": r["throughput_per_s"], "peak_rss_bytes": r["peak_rss_bytes"],
                "cached": r["cached"], "model_sha256": r["model_sha256"]}

    def latency_ms(self, model, stat: str = "p50", **kwargs) -> float:
        return float(self.benchmark(model, **kwargs)["latency_ms"][stat])

    @staticmethod
    def _bytes(model, input_shape) -> bytes:
        if isinstance(model, (bytes, bytearray)):
            return bytes(model)
        if isinstance(model, (str, Path)):
            return Path(model).read_bytes()
        from .export import is_torch_module, torch_to_onnx

        if is_torch_module(model):
            if input_shape is None:
                raise ValueError("a torch module needs input_shape=(1, C, H, W) to be exported to ONNX")
            return torch_to_onnx(model, input_shape).read_bytes()
        raise TypeError(f"send an .onnx/.tflite path, bytes or a torch module, not {type(model).__name__}")

"""One bubblewrap sandbox per submission: :func:`run_in_sandbox`.

What the student's code sees: the operating system's ``/usr`` and ``/etc``, the Python installation
and the course library, all read-only; its own writable job folder (notebook, home, IPython and
Jupyter folders, data cache, temporary files), thrown away afterwards. Not the gradebook, not
``grading/source``, not other submissions, not the instructor's home, no network (own network,
PID, IPC and UTS namespaces). It runs as a throwaway user id without capabilities when the grader
is root (as the grader's own unprivileged user otherwise), under limits on memory, CPU time, number
of processes and file size, and the whole sandbox is killed at its wall-time limit: its own PID
namespace dies with it, so no process it started outlives it.
"""
from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

THROWAWAY_UID = 61_000  # + a counter: a user id with no account, files or processes on the host


class SandboxUnavailable(RuntimeError):
    """No sandbox tool here: grading student code would run it with the instructor's rights."""


@dataclass(frozen=True)
class Limits:
    """Per-submission limits: wall time of the whole notebook and of one cell (s), memory (address
    space per process, MiB), CPU time (s), processes, file size and output of one cell (bytes)."""

    notebook_s: int = 900
    cell_s: int = 300
    memory_mib: int = 16_384
    cpu_s: int = 1_800
    processes: int = 256
    file_bytes: int = 256 << 20
    cell_output_bytes: int = 200_000


def bwrap() -> str | None:
    return shutil.which("bwrap")


def probe() -> str | None:
    """``None`` when bwrap can make this module's sandbox here, else why not (e.g. a container
    without user namespaces)."""
    if not bwrap():
        return "bubblewrap (bwrap) is not installed"
    argv = [bwrap(), "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--die-with-parent",
            *([] if os.geteuid() == 0 else ["--unshare-user"]), "--ro-bind", "/", "/", "--proc", "/proc",
            "--dev", "/dev", "--", "true"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bwrap could not start: {e}"
    return None if proc.returncode == 0 else f"bwrap cannot create a sandbox here: {proc.stderr.strip()}"


def check_available(unsafe: bool = False) -> str:
    """``"bwrap"``, or ``"unsafe"`` when no sandbox can be made and ``unsafe`` is set; else raise."""
    why = probe()
    if why is None:
        return "bwrap"
    if unsafe:
        return "unsafe"
    raise SandboxUnavailable(
        f"{why}, and grading without a sandbox runs every submission with your rights (it could read or "
        "change the gradebook, other submissions and your files). Install bubblewrap (Debian/Ubuntu: "
        "apt-get install bubblewrap; in a container, allow user namespaces), or pass --unsafe to grade "
        "without a sandbox (only for submissions you trust, e.g. on macOS or Windows).")


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return args


def _python_binds(library: Path) -> list[str]:
    """The interpreter, the environment and the course library, read-only at their own paths
    (their parent folders made world-readable: as root, bwrap would make them 0700)."""
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).absolute(), Path(sys.prefix).resolve(), library}
    paths = sorted((p for p in paths if not str(p).startswith(("/usr/", "/etc/")) and p.exists()),
                   key=lambda p: len(p.parts))
    parents = sorted({str(q) for p in paths for q in p.parents if len(q.parts) > 1}, key=len)
    args = [a for parent in parents for a in ("--perms", "0755", "--dir", parent)]
    for path in paths:
        args += ["--ro-bind", str(path), str(path)]
    return args


def command(job: Path, argv: list[str], env: dict[str, str], library: Path, extra_ro: dict[str, str],
            uid: int | None) -> list[str]:
    """The ``bwrap`` command line running ``argv`` with ``job`` mounted writable at ``/job``."""
    cmd = [bwrap(), "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid", "--unshare-net",
           "--unshare-uts", "--unshare-cgroup-try", "--hostname", "grading"]
    if uid is None:  # an unprivileged grader: bwrap needs a user namespace of its own
        cmd.append("--unshare-user")
    cmd += _system_binds() + _python_binds(library)
    for src, dest in extra_ro.items():
        cmd += ["--ro-bind", src, dest]
    cmd += ["--bind", str(job), "/job", "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev",
            "--chdir", "/job/work", "--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    if uid is not None:  # root grader: mounts made as root, then the student's code as a nobody
        cmd += ["--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all", "--no-new-privs", "--"]
    else:
        cmd += ["--"]
    return cmd + argv


def _limit(limits: Limits):
    def apply():  # in the child, before exec: inherited by everything the sandbox starts
        memory = limits.memory_mib << 20
        for which, value in [(resource.RLIMIT_AS, memory), (resource.RLIMIT_CPU, limits.cpu_s),
                             (resource.RLIMIT_FSIZE, limits.file_bytes), (resource.RLIMIT_CORE, 0)]:
            resource.setrlimit(which, (value, value))
        if os.geteuid() != 0:  # counted per user: on top of what the instructor already runs
            n = limits.processes + own
            resource.setrlimit(resource.RLIMIT_NPROC, (n, n))
    own = _processes_of(os.geteuid()) if os.geteuid() != 0 else 0  # as root the throwaway uid gets it below
    return apply


def _processes_of(uid: int) -> int:
    count = 0
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and os.stat(f"/proc/{pid}").st_uid == uid:
                count += 1
        except OSError:
            pass
    return count


@dataclass
class Finished:
    seconds: float
    timed_out: bool
    returncode: int
    log: str


def run_in_sandbox(job: Path, argv: list[str], env: dict[str, str], library: Path, limits: Limits,
                   extra_ro: dict[str, str] | None = None, slot: int = 0) -> Finished:
    """Run ``argv`` in a fresh sandbox over ``job``; kill it all at ``limits.notebook_s``."""
    uid = THROWAWAY_UID + slot if os.geteuid() == 0 else None
    if uid is not None:
        for path in [job, *job.rglob("*")]:
            os.chown(path, uid, uid)
    cmd = command(job, argv, env, library, extra_ro or {}, uid)
    if uid is not None:  # RLIMIT_NPROC counts per real uid: set it for the throwaway one only
        i = cmd.index("setpriv")
        cmd[i:i + 1] = ["prlimit", f"--nproc={limits.processes}", "--", "setpriv"]
    log_path = job / "sandbox.log"
    start = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=_limit(limits), start_new_session=True)
        try:
            proc.wait(timeout=limits.notebook_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill(proc)
    with open(log_path, "rb") as f:
        text = f.read(200_000).decode(errors="replace")
    return Finished(time.monotonic() - start, timed_out, proc.returncode, text)


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL the sandbox's session; its PID namespace takes every process inside with it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()

"""Test-wide settings: no network except loopback, fast mode, offline data."""
from __future__ import annotations

import ipaddress
import os
import socket

import pytest

os.environ["COURSE_FAST"] = "1"
os.environ["COURSE_LIB_DOWNLOAD"] = "0"
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

# course_lib loads torch._dynamo before TensorFlow whenever TensorFlow is imported (a segfault
# otherwise, see course_lib/__init__.py); importing it here covers tests that import tensorflow first.
import course_lib  # noqa: E402,F401


class NetworkBlocked(OSError):
    pass


def _is_local(host) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guard(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
        raise NetworkBlocked(f"network access is blocked in tests: tried to connect to {address!r}")


def _connect(self, address):
    _guard(self, address)
    return _real_connect(self, address)


def _connect_ex(self, address):
    _guard(self, address)
    return _real_connect_ex(self, address)


def _getaddrinfo(host, *args, **kwargs):
    if not _is_local(host):
        raise NetworkBlocked(f"network access is blocked in tests: tried to resolve {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def block_network():
    """Any hidden download fails loudly; loopback (kernels, the benchmark agent) still works."""
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect_ex
    socket.getaddrinfo = _getaddrinfo
    yield
    socket.socket.connect = _real_connect
    socket.socket.connect_ex = _real_connect_ex
    socket.getaddrinfo = _real_getaddrinfo

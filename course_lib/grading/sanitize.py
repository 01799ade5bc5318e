"""What a graded notebook may show the instructor (formgrader) and the student (feedback).

Outputs keep text and raster images only: HTML, SVG, JavaScript and widget outputs a submission
produced are dropped (a ``<script>`` in them would run in the grader's browser); markdown answers
have their HTML escaped and ``javascript:`` links disabled. Hidden tests are cut from feedback.
"""
from __future__ import annotations

import base64
import binascii
import re

import nbformat

KEPT_MIME = ("text/plain", "image/png", "image/jpeg")
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.S)
HIDDEN_NOTE = "# (hidden tests, not shown)\n"


def _image_ok(data) -> bool:
    try:
        base64.b64decode("".join(data) if isinstance(data, list) else data, validate=True)
        return True
    except (binascii.Error, TypeError, ValueError):
        return False


def outputs(outs: list) -> list:
    """Outputs with only text and valid PNG/JPEG data kept."""
    kept = []
    for out in outs:
        kind = out.get("output_type")
        if kind == "stream":
            kept.append(nbformat.v4.new_output("stream", name=out.get("name", "stdout") if out.get("name") in
                                               ("stdout", "stderr") else "stdout", text=str(out.get("text", ""))))
        elif kind == "error":
            kept.append(nbformat.v4.new_output("error", ename=str(out.get("ename", "")),
                                               evalue=str(out.get("evalue", "")),
                                               traceback=[str(t) for t in out.get("traceback", [])][:200]))
        elif kind in ("display_data", "execute_result"):
            data = {m: v for m, v in (out.get("data") or {}).items() if m in KEPT_MIME
                    and (m == "text/plain" or _image_ok(v))}
            if data:
                new = nbformat.v4.new_output("display_data", data=data)
                kept.append(new)
    return kept


def markdown(text: str) -> str:
    """A student's markdown with its HTML shown as text and ``javascript:`` links disabled."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"(?i)javascript\s*:", "javascript-blocked-", text)


def strip_hidden_tests(source: str) -> str:
    return HIDDEN.sub(HIDDEN_NOTE, source)

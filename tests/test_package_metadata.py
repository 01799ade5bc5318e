"""The package installs where Colab runs: Python 3.12 and 3.13 with Colab's preinstalled versions.

The metadata is the one pip reads (setuptools builds it from pyproject.toml), checked against the
version lists of scripts/colab/ (Colab's published pip freeze); scripts/colab_check.sh installs
and runs the course on real 3.12/3.13 environments (docs/colab.md).
"""
from __future__ import annotations

import email
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

import course_lib
from course_lib import notebook

ROOT = Path(__file__).resolve().parents[1]
COLAB = {f.stem.removeprefix("py"): f for f in sorted((ROOT / "scripts" / "colab").glob("py3.*.txt"))}


def colab_versions(path: Path) -> dict[str, str]:
    pins = [Requirement(line) for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return {canon(r.name): str(r.specifier).removeprefix("==") for r in pins}


def canon(name: str) -> str:
    return name.lower().replace("_", "-")


@pytest.fixture(scope="module")
def metadata(tmp_path_factory):
    """METADATA as setuptools writes it for pip (PEP 517 prepare_metadata_for_build_wheel)."""
    out = tmp_path_factory.mktemp("meta")
    code = ("import sys; from setuptools import build_meta as b; "
            "print(b.prepare_metadata_for_build_wheel(sys.argv[1]))")
    name = subprocess.run([sys.executable, "-c", code, str(out)], cwd=ROOT, capture_output=True, text=True,
                          check=True, env=dict(os.environ, PYTHONWARNINGS="ignore")).stdout.strip().splitlines()[-1]
    return email.message_from_string((out / name / "METADATA").read_text())


def test_colab_lists_exist():
    assert set(COLAB) >= {"3.12", "3.13"}, f"scripts/colab/ has {sorted(COLAB)}"


@pytest.mark.parametrize("python", ["3.11", "3.12", "3.13"])
def test_requires_python_accepts(metadata, python):
    spec = SpecifierSet(metadata["Requires-Python"])
    assert spec.contains(python + ".0"), f"Requires-Python {spec} refuses Python {python}"


@pytest.mark.parametrize("python", ["3.12", "3.13"])
def test_dependencies_accept_colabs_preinstalled_versions(metadata, python):
    have = colab_versions(COLAB[python])
    env = dict(default_environment(), python_version=python, python_full_version=python + ".0")
    refused, checked = [], 0
    for extra in ["", "torch", "tf", "onnx", "search", "colab"]:
        env["extra"] = extra
        for line in metadata.get_all("Requires-Dist"):
            req = Requirement(line)
            if req.marker and not req.marker.evaluate(env) or (not req.marker and extra):
                continue
            version = have.get(canon(req.name))
            if version is None:
                continue  # Colab lacks it: the setup cell installs it (the `colab` extra)
            checked += 1
            if not req.specifier.contains(version, prereleases=True):
                refused.append(f"{req} refuses Colab's {req.name} {version}")
    assert checked >= 10, f"only {checked} requirements matched Colab's list: is scripts/colab/py{python}.txt read?"
    assert not refused, "\n".join(refused)


def test_no_exact_pins_in_package_metadata():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + [r for rs in project["optional-dependencies"].values() for r in rs]
    pinned = [r for r in reqs if "==" in r]
    assert not pinned, f"exact pins belong in requirements.txt/constraints.txt, not the package: {pinned}"


def extra_names(metadata, extra: str) -> set[str]:
    """Names an extra pulls in, following this package's own extras (``edgeml-course[onnx]``)."""
    names = set()
    for line in metadata.get_all("Requires-Dist"):
        req = Requirement(line)
        if req.marker and req.marker.evaluate({"extra": extra}):
            if canon(req.name) == "edgeml-course":
                names |= set().union(*(extra_names(metadata, e) for e in req.extras))
            else:
                names.add(canon(req.name))
    return names


def test_colab_extra_holds_what_colab_lacks(metadata):
    names = extra_names(metadata, "colab")
    have = colab_versions(COLAB["3.13"])
    for need in ["onnx", "onnxscript", "onnxruntime", "tensorflow-model-optimization", "optuna", "pymoo"]:
        assert need in names, f"the colab extra lacks {need}: {sorted(names)}"
    kept = {canon(n) for n in notebook.COLAB_KEEP}
    assert {"torch", "tensorflow", "numpy", "protobuf"} <= kept <= set(have), (
        f"the setup cell keeps {sorted(kept)}: Colab's own torch, TensorFlow, numpy and protobuf must stay")


def test_release_tag_is_the_package_version(metadata):
    assert metadata["Version"] == course_lib.__version__
    assert notebook.RELEASE == f"v{metadata['Version']}", (
        f"course_lib.notebook.RELEASE {notebook.RELEASE!r} must be 'v' + the package version {metadata['Version']}")
    assert metadata["Project-URL"].endswith(notebook.REPO), "[project.urls] Repository must be course_lib.notebook.REPO"

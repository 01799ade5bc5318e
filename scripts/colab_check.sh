#!/usr/bin/env bash
# Does the course run on Colab's software? For one Python (3.12 or 3.13):
#   1. a venv with Colab's preinstalled versions of torch, TensorFlow, numpy, protobuf, ipywidgets...
#      (scripts/colab/pyX.Y.txt, from Colab's published pip freeze);
#   2. the student release (scripts/make_release.py) as a git repository tagged with
#      course_lib.notebook.RELEASE, served in place of course_lib.notebook.REPO (git insteadOf);
#   3. lecture 3's setup cell, run as on Colab (a google.colab module present): it must install
#      the course from that tag without changing Colab's torch, TensorFlow, numpy or protobuf;
#   4. lectures 3 and 5 and both lab solutions executed top to bottom (nbclient) in an empty
#      folder, like /content on Colab, in full mode unless COURSE_FAST=1 is set.
# Prints a markdown table (also in WORKDIR/colab_check.md): step, result, minutes.
#
#   scripts/colab_check.sh /path/to/python3.12 [WORKDIR]    (takes minutes: torch and TF download)
set -uo pipefail

PY=${1:?usage: scripts/colab_check.sh PYTHON [WORKDIR]}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
PINS="$ROOT/scripts/colab/py$VER.txt"
[ -f "$PINS" ] || { echo "no Colab version list $PINS for Python $VER (have: $(ls "$ROOT/scripts/colab"))" >&2; exit 2; }
W=${2:-${TMPDIR:-/tmp}/colab_check_py$VER}
rm -rf "$W" && mkdir -p "$W"
W=$(cd "$W" && pwd)
REPO=$(sed -n 's/^REPO = "\(.*\)"$/\1/p' "$ROOT/course_lib/notebook.py" | head -1)
RELEASE=$(sed -n 's/^RELEASE = "\([^"{]*\)".*/\1/p' "$ROOT/course_lib/notebook.py" | head -1)
TABLE="$W/colab_check.md"
FAILED=0
MODE=$([ "${COURSE_FAST:-0}" != 0 ] && echo fast || echo full)
echo "| Python $("$PY" -V 2>&1 | cut -d' ' -f2) | result | minutes |" > "$TABLE"
echo "|---|---|---|" >> "$TABLE"

row() {  # row STEP RESULT SECONDS
    printf '| %s | %s | %s |\n' "$1" "$2" "$(awk "BEGIN { printf \"%.1f\", $3 / 60 }")" | tee -a "$TABLE"
}

STEP=0
step() {  # step NAME COMMAND...: run, time, record ok or the last line of its output (log_N.txt)
    local name=$1; shift
    local t0=$SECONDS log="$W/log_$((STEP += 1)).txt"
    if "$@" > "$log" 2>&1; then
        row "$name" "ok" $((SECONDS - t0))
    else
        FAILED=1
        row "$name" "FAILED: $(grep -v '^\s*$' "$log" | tail -1 | tr '|' '/' | cut -c1-160)" $((SECONDS - t0))
    fi
}

base_env() {
    "$PY" -m venv "$W/venv" && "$W/venv/bin/python" -m pip install -q --disable-pip-version-check "pip>=24" &&
        "$W/venv/bin/python" -m pip install -q --disable-pip-version-check -r "$PINS"
}

student_repo() {
    python3 "$ROOT/scripts/make_release.py" "$W/student" &&
        git -C "$W/student" init -q && git -C "$W/student" add -A &&
        git -C "$W/student" -c user.name=check -c user.email=check@localhost commit -qm release &&
        git -C "$W/student" tag "$RELEASE" &&
        printf '[url "file://%s"]\n\tinsteadOf = %s\n' "$W/student" "$REPO" > "$W/gitconfig"
}

setup_cell() {  # the first code cell of lecture 3, with google.colab importable as on Colab
    GIT_CONFIG_GLOBAL="$W/gitconfig" "$W/venv/bin/python" - "$ROOT/lectures/week03_quantization.ipynb" <<'EOF'
import json, sys, types
cell = next(c for c in json.load(open(sys.argv[1]))["cells"] if c["cell_type"] == "code")
sys.modules["google.colab"] = types.ModuleType("google.colab")
exec("".join(cell["source"]), {"__name__": "__main__"})
EOF
}

kept() {  # Colab's own torch, TensorFlow, numpy, protobuf are unchanged, and pip check passes
    local bad=0
    local pkg want have
    for pkg in torch torchvision tensorflow tf_keras numpy protobuf; do
        want=$(grep -i "^$pkg==" "$PINS" | cut -d= -f3)
        have=$("$W/venv/bin/python" -c "from importlib.metadata import version; print(version('$pkg'))")
        echo "$pkg: Colab $want, after setup $have"
        [ "${have%%+*}" = "$want" ] || bad=1
    done
    "$W/venv/bin/python" -m pip freeze > "$W/freeze.txt"
    "$W/venv/bin/python" -m pip check || bad=1
    return $bad
}

run_notebook() {  # run_notebook PATH: execute a copy in an empty folder with the venv's kernel
    local dir="$W/content/$(basename "$1" .ipynb)"
    mkdir -p "$dir" && cp "$1" "$dir/"
    env -u PYTHONPATH JUPYTER_DATA_DIR="$W/jupyter" "$W/venv/bin/python" - "$dir/$(basename "$1")" <<'EOF'
import sys, nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, 4)
NotebookClient(nb, kernel_name="colab-check", timeout=3600, resources={"metadata": {"path": path.rsplit("/", 1)[0]}}).execute()
nbformat.write(nb, path)
print("executed", path)
EOF
}

step "Colab's packages installed (${PINS#$ROOT/})" base_env
step "student release tagged $RELEASE" student_repo
step "setup cell (pip install from $RELEASE)" setup_cell
step "Colab's torch/TF/numpy/protobuf kept, pip check" kept
JUPYTER_DATA_DIR="$W/jupyter" "$W/venv/bin/python" -m ipykernel install --user --name colab-check > /dev/null 2>&1
for nb in lectures/week03_quantization.ipynb lectures/week05_evolutionary_search.ipynb \
          solutions/lab03_quantization/lab03_quantization.ipynb \
          solutions/lab05_weight_sharing_search/lab05_weight_sharing_search.ipynb; do
    step "$nb ($MODE mode)" run_notebook "$ROOT/$nb"
done
echo "table: $TABLE; logs: $W/log_*.txt; executed notebooks: $W/content/"
exit $FAILED

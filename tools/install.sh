#!/usr/bin/env bash
# Sets up speechxl on a fresh Debian/Ubuntu machine, Kaldi-style: the system packages the
# recipes need, then a virtual environment (.venv) holding speechxl and its Python packages.
# Re-running is cheap: what is already installed is kept.
#   bash tools/install.sh              # PYTHON=python3.11 TORCH_SPEC="torch==2.13.0" to override
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
torch_spec=${TORCH_SPEC:-}
# espeak-ng: G2P (phonemizer) and the demo corpus's voices; sctk: sclite, which the tests run on
# the trn files speechxl writes (it must count what the reports count); festival and its voices
# (speechxl/corpora/festival.py): the demo's other voices, units a human speaker recorded
apt_packages="espeak-ng sctk festival festvox-hi-nsk festvox-ru festvox-italp16k festvox-itapc16k festvox-mr-nsk
  festvox-te-nsk festvox-suopuhe-lj festvox-suopuhe-mv festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
  festvox-ca-ona-hts"

missing=""
for p in $apt_packages; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "install.sh: installing Debian packages:$missing"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "install.sh: speechxl needs Python >= 3.11; $python is $("$python" --version 2>&1). Set PYTHON=." >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv

# Skip pip when nothing it reads has changed since the last successful install.
stamp=.venv/.speechxl-installed
want=$(cat pyproject.toml tools/constraints.txt; echo "$torch_spec")
if [ -f "$stamp" ] && [ "$(cat "$stamp")" == "$want" ]; then
  echo "install.sh: .venv is up to date"
  exit 0
fi
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
if [ -n "$torch_spec" ]; then constraints=(); else constraints=(-c tools/constraints.txt); fi
"${pip[@]}" "${constraints[@]}" "${torch_spec:-torch}"
"${pip[@]}" "${constraints[@]}" -e ".[test]"
echo "$want" > "$stamp"
echo "install.sh: done; activate with: . .venv/bin/activate"

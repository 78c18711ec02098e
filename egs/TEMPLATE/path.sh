# Puts the speechxl command on PATH: the repository's .venv (made by tools/install.sh).
_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -x "$_root/.venv/bin/speechxl" ]; then
  export PATH="$_root/.venv/bin:$PATH"
elif ! command -v speechxl >/dev/null 2>&1; then
  echo "speechxl is not installed: run bash $_root/tools/install.sh" >&2
  exit 1
fi
export PYTHONUNBUFFERED=1
unset _root

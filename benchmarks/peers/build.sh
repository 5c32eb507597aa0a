#!/usr/bin/env bash
# Build one virtualenv per peer monitor (they pin other pandas/numpy versions than Watchkeeper).
# Usage: benchmarks/peers/build.sh [DIR]   (default DIR: .bench/peers)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=${1:-$root/.bench/peers}
uv="$root/.venv/bin/uv"
mkdir -p "$dir"
build() {  # name, packages...
  local name=$1; shift
  if [ -x "$dir/$name/bin/python" ] && "$dir/$name/bin/python" -c "import $name" 2>/dev/null; then
    echo "$name: ready in $dir/$name"; return
  fi
  if [ -x "$uv" ]; then
    "$uv" venv -q --python python3 "$dir/$name"
    "$uv" pip install -q --python "$dir/$name/bin/python" "$@"
  else
    python3 -m venv "$dir/$name"
    "$dir/$name/bin/pip" install -q "$@"
  fi
  echo "$name: built in $dir/$name"
}
build nannyml "nannyml==0.13.1" statsmodels "pandas==2.2.3" pyarrow
build evidently "evidently==0.7.23" "pandas==2.2.3" pyarrow

# Shared bootstrap for scripts/run, scripts/test and scripts/bench (sourced, not run).
# Creates .venv if missing, installs the project (and extras), fetches front-end libraries from the
# npm registry into app/static/vendor, and compiles translations. Re-runs are cheap: a stamp file
# records what was installed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
EXTRAS="${IEUM_EXTRAS:-}"

if [ ! -x .venv/bin/python ]; then
  echo "• 가상환경을 만듭니다 / creating .venv"
  "$PY" -m venv .venv
fi
VPY="$ROOT/.venv/bin/python"
stamp=".venv/.ieum-installed${EXTRAS:+-$EXTRAS}"
want="$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "• 패키지를 설치합니다 / installing Python packages${EXTRAS:+ ($EXTRAS)}"
  # pip's own chatter (build warnings) goes to a log, shown only if the install fails.
  if ! { "$VPY" -m pip install -q --disable-pip-version-check -U pip &&
         "$VPY" -m pip install -q --disable-pip-version-check -e ".${EXTRAS:+[$EXTRAS]}"; } > .venv/.install.log 2>&1; then
    cat .venv/.install.log >&2; echo "! 설치 실패 / install failed (.venv/.install.log)" >&2; exit 1
  fi
  echo "$want" > "$stamp"
fi

# The SFU's fan-out loop in C (webrtc/fanout.c); without a compiler the SFU forwards in Python.
"$VPY" -m webrtc.fastpath build --optional >/dev/null

# Front-end libraries come from the npm registry at install time and are served by the app.
vendor="app/static/vendor"
if [ ! -f "$vendor/.stamp" ] || [ "$(cat "$vendor/.stamp")" != "$(sha256sum package.json | cut -c1-16)" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "• 프런트엔드 라이브러리를 받습니다 / fetching front-end libraries (npm)"
    npm install --silent --no-audit --no-fund >/dev/null
    mkdir -p "$vendor"
    cp node_modules/chart.js/dist/chart.umd.js "$vendor/chart.umd.js"
    cp node_modules/axe-core/axe.min.js "$vendor/axe.min.js"
    [ -f node_modules/hls.js/dist/hls.min.js ] && cp node_modules/hls.js/dist/hls.min.js "$vendor/hls.min.js"
    sha256sum package.json | cut -c1-16 > "$vendor/.stamp"
  else
    echo "! npm이 없어 차트가 표시되지 않습니다 / npm missing: charts will not render" >&2
  fi
fi

# Translations: English catalogue compiled from the committed .po file.
"$ROOT/.venv/bin/pybabel" -q compile -d app/translations -D messages

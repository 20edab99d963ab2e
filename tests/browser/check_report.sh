#!/usr/bin/env bash
# Renders a Volley HTML report in headless Chromium and checks that it rendered.
#
#   check_report.sh REPORT.html SCREENSHOT.png
#   check_report.sh --from-sample OUT.html SCREENSHOT.png
#       first builds OUT.html from runner/src/render/report_html/template.html + sample-results.json
#       (python3 needed), then checks it.
#
# Passes when the dumped DOM has data-rendered="ok" and at least MIN_CHARTS (default 5)
# <svg class="chart"> elements whose data-points is > 0, and Chromium's log during --dump-dom
# shows no "Uncaught" or "SyntaxError", and every id in EXPECT_IDS (space-separated, default
# none) is in the rendered DOM. Also writes a 1280x2400 screenshot.
# Exit codes: 0 ok, 1 check failed, 2 usage error or chromium missing.
set -euo pipefail

usage() {
  echo "usage: $0 [--from-sample] REPORT.html SCREENSHOT.png" >&2
  exit 2
}

from_sample=0
if [[ "${1:-}" == "--from-sample" ]]; then
  from_sample=1
  shift
fi
[[ $# -eq 2 ]] || usage
report=$1
shot=$2
min_charts=${MIN_CHARTS:-5}
expect_ids=${EXPECT_IDS:-}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

if (( from_sample )); then
  tpl="$repo/runner/src/render/report_html/template.html"
  sample="$repo/runner/src/render/report_html/sample-results.json"
  command -v python3 >/dev/null || { echo "python3 not found (needed for --from-sample)" >&2; exit 2; }
  python3 - "$tpl" "$sample" "$report" <<'PY'
import json, sys
tpl, sample, out = sys.argv[1:4]
page = open(tpl, encoding="utf-8").read()
ph = "/*VOLLEY_RESULTS_JSON*/null"
n = page.count(ph)
if n != 1:
    sys.exit(f"template must contain the placeholder exactly once, found {n}")
data = json.dumps(json.load(open(sample, encoding="utf-8")), separators=(",", ":")).replace("</", "<\\/")
open(out, "w", encoding="utf-8").write(page.replace(ph, data, 1))
PY
  echo "built $report from the sample results"
fi

[[ -f "$report" ]] || { echo "report not found: $report" >&2; exit 2; }

chrome=""
for c in chromium chromium-browser; do
  if command -v "$c" >/dev/null 2>&1; then chrome=$(command -v "$c"); break; fi
done
if [[ -z "$chrome" ]]; then
  echo "chromium not found: apt-get install -y chromium" >&2
  exit 2
fi

abs_report=$(cd "$(dirname "$report")" && pwd)/$(basename "$report")
mkdir -p "$(dirname "$shot")"
abs_shot=$(cd "$(dirname "$shot")" && pwd)/$(basename "$shot")
url="file://$abs_report"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run_chrome() {
  local profile
  profile=$(mktemp -d "$work/profile.XXXXXX")
  timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" "$@"
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# 1. DOM after scripts ran, with the console log on stderr.
if ! run_chrome --enable-logging=stderr --v=0 --dump-dom "$url" >"$work/dom.html" 2>"$work/log.txt"; then
  tail -n 20 "$work/log.txt" >&2 || true
  fail "chromium --dump-dom failed"
fi

if grep -E "Uncaught|SyntaxError" "$work/log.txt" >&2; then
  fail "JavaScript error while rendering $report (see log lines above)"
fi

if ! grep -q 'data-rendered="ok"' "$work/dom.html"; then
  state=$(grep -oE 'data-rendered="[^"]*"' "$work/dom.html" | head -n1 || true)
  err=$(grep -oE '<div class="error-box" id="render-error">[^<]*' "$work/dom.html" | sed 's/<[^>]*>//' | head -c 2000 || true)
  fail "report did not render: ${state:-no data-rendered attribute}${err:+: $err}"
fi

total=0
drawn=0
while IFS= read -r tag; do
  [[ "$tag" =~ class=\"chart\" ]] || continue
  total=$((total + 1))
  if [[ "$tag" =~ data-points=\"([0-9]+)\" ]] && (( BASH_REMATCH[1] > 0 )); then
    drawn=$((drawn + 1))
  fi
done < <(grep -oE '<svg[^>]*>' "$work/dom.html" || true)

if (( drawn < min_charts )); then
  fail "only $drawn of $total charts have data points (need at least $min_charts)"
fi

for id in $expect_ids; do
  grep -q "id=\"$id\"" "$work/dom.html" || fail "no element with id=\"$id\" in the rendered report"
done

# 2. Screenshot.
rm -f "$abs_shot"
if ! run_chrome --hide-scrollbars --window-size=1280,2400 --screenshot="$abs_shot" "$url" >"$work/shot.log" 2>&1; then
  tail -n 20 "$work/shot.log" >&2 || true
  fail "chromium --screenshot failed"
fi
[[ -s "$abs_shot" ]] || fail "no screenshot written to $shot"

echo "OK: $report rendered; $drawn/$total charts with data; screenshot $shot"

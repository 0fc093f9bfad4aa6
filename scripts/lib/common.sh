# Shared helpers for the bash scripts in scripts/. Source it; it defines functions and variables only.
#   root        the repository root
#   tools_dir   the per-user tool cache, outside the clone so that every clone on a machine shares it

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tools_dir=${SHOP_TOOLS_DIR:-${HOME:?HOME is not set}/.cache/shop/tools}

# shellcheck source=versions.env
source "$root/scripts/lib/versions.env"

# say PREFIX MESSAGE...: one progress line, prefixed with the script's name.
say() {
  local prefix=$1
  shift
  echo "$prefix: $*"
}

# die PREFIX MESSAGE...: the error names what failed and why; the caller's exit code is 1.
die() {
  local prefix=$1
  shift
  echo "$prefix: error: $*" >&2
  exit 1
}

# elapsed SECONDS_SINCE: "12s" or "3m05s" since the given $SECONDS value.
elapsed() {
  local s=$((SECONDS - $1))
  if [ "$s" -ge 60 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}

# log_tail FILE: the last lines of an install log, indented, for error messages.
log_tail() {
  tail -n 15 "$1" 2>/dev/null | sed 's/^/    /'
}

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

# install_go_tool PREFIX NAME VERSION MODULE BINARY: `go install MODULE@vVERSION` into
# $tools_dir/NAME-VERSION/bin, with progress lines prefixed by PREFIX. Idempotent: a directory counts as
# installed only with its `.installed` marker, written last, so an interrupted install is redone. The
# caller holds the cache lock (scripts/setup and scripts/setup-bench take it).
install_go_tool() {
  local prefix=$1 name=$2 v=$3 module=$4 binary=$5 start=$SECONDS
  local dir="$tools_dir/$name-$v"
  if [ -f "$dir/.installed" ] && [ -x "$dir/bin/$binary" ]; then
    say "$prefix" "$name $v ... cached"
    return
  fi
  command -v go >/dev/null || die "$prefix" "$name $v is built with Go, and 'go' is not on PATH: install Go 1.24 or newer"
  say "$prefix" "$name $v ... installing (go install $module@v$v)"
  rm -rf "$dir"
  mkdir -p "$dir/bin"
  local log="$dir/install.log"
  # CGO off: static binaries that need no C toolchain. buildvcs off: there is no VCS data to stamp.
  if ! GOBIN="$dir/bin" CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install "$module@v$v" >"$log" 2>&1; then
    log_tail "$log" >&2
    die "$prefix" "go install $module@v$v failed (log: $log)"
  fi
  [ -x "$dir/bin/$binary" ] || die "$prefix" "go install $module@v$v did not produce $dir/bin/$binary"
  touch "$dir/.installed"
  say "$prefix" "$name $v ... installed in $(elapsed "$start")"
}

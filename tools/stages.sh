# Stage gating for recipes; source it after parse_options.sh. Needs $stage, $stop_stage and
# $exp. `run_stage N NAME [--reads "VAR..."] CMD...` runs CMD when stage <= N <= stop_stage and
# writes the marker $exp/.done/stage<N> last, holding CMD and the values of the recipe variables
# CMD reads besides its arguments (--reads: what a stage function takes from the recipe). A
# re-run skips a stage whose marker holds the same, and re-runs a stage that was killed or whose
# command or settings changed.

run_stage() {
  local n=$1 name=$2 reads="" v
  shift 2
  if [ "$1" == --reads ]; then
    for v in $2; do reads+=" [$v=${!v}]"; done
    shift 2
  fi
  if [ "$n" -lt "$stage" ] || [ "$n" -gt "$stop_stage" ]; then return 0; fi
  local marker="$exp/.done/stage$n" sig="$*$reads"
  if [ -f "$marker" ] && [ "$(cat "$marker")" == "$sig" ]; then
    echo "== stage $n ($name): done already; skipped (delete $marker to re-run)"
    return 0
  fi
  rm -f "$marker"
  echo "== stage $n ($name): $*"
  local t0=$SECONDS
  "$@"
  mkdir -p "$(dirname "$marker")"
  printf '%s\n' "$sig" > "$marker"
  echo "== stage $n ($name): finished in $((SECONDS - t0)) s"
}

# not_built N NAME: say that stage N is not built yet, and stop the recipe there.
not_built() {
  if [ "$1" -lt "$stage" ] || [ "$1" -gt "$stop_stage" ]; then return 0; fi
  echo "== stage $1 ($2): not built yet; stopping here"
  exit 0
}

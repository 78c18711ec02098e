# Kaldi-style option parsing for recipes; source it after setting the defaults:
#   stage=0        # first stage to run
#   cv_root=       # CommonVoice release
#   . ../../tools/parse_options.sh
# Then `run.sh --stage 3 --cv_root /x` (or --cv-root=/x) sets stage=3 and cv_root=/x. Only
# variables the script already set can be given; those named in $path_options are paths, and a
# relative one is taken from the directory the user ran run.sh from; --help lists them with their comments (from
# the recipe and what it sources, e.g. egs/TEMPLATE/asr.sh).
# What follows the options stays in "$@".

while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h)
      # the scripts in the sourcing chain (run.sh, egs/TEMPLATE/asr.sh), found from the recipe's
      # own directory, where run.sh has cd'ed
      _files=(); for _f in "${BASH_SOURCE[@]:1}"; do
        [ -f "$_f" ] || _f=$(basename "$_f"); _files=("$_f" "${_files[@]}"); done
      sed -n '2,/^set /p' "${_files[0]}" | grep '^#' | sed 's/^# \{0,1\}//'
      echo "Options (default in brackets):"
      grep -hE '^[a-z_][a-z0-9_]*=("[^"]*"|[^ "]*) *#' "${_files[@]}" |
        sed -E 's/^([a-z0-9_]+)=("[^"]*"|[^ "]*) *# */  --\1 [\2]  /; s/\["([^"]*)"\]/[\1]/; s/\[\$\{[a-z_]+:-([^}]*)\}\]/[\1]/' |
        awk '!seen[$1]++'  # an option run.sh sets before the shared stages do: run.sh's line
      exit 0 ;;
    --*=*) _name=${1%%=*}; _value=${1#*=}; shift ;;
    --*)
      if [ $# -lt 2 ]; then echo "$0: option $1 needs a value" >&2; exit 1; fi
      _name=$1; _value=$2; shift 2 ;;
    *) break ;;
  esac
  _name=${_name#--}; _name=${_name//-/_}
  if ! [[ $_name =~ ^[a-z_][a-z0-9_]*$ ]] || ! declare -p "$_name" >/dev/null 2>&1; then
    echo "$0: unknown option --$_name (see $0 --help)" >&2; exit 1
  fi
  # a path option given relative to where the user stood: run.sh has cd'ed into egs/<corpus>
  # (cd sets OLDPWD); its defaults stay relative to the recipe's own directory
  if [[ " ${path_options:-} " == *" $_name "* && -n $_value && $_value != /* ]]; then
    _value="${OLDPWD:-$PWD}/$_value"
  fi
  printf -v "$_name" '%s' "$_value"
done
unset _name _value

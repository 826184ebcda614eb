# SPDX-License-Identifier: MIT
# bash completion for smr(1): subcommands, each one's options, channel
# names (the NAME of each /dev/shm/NAME.smr; paths when the word holds a
# '/'), files for publish's FILE and directories for ls.
# Installed as share/bash-completion/completions/smr.

# _smr_add COMPGEN-ARGS...: append compgen's words to COMPREPLY.
_smr_add() {
  local w
  while IFS= read -r w; do COMPREPLY+=("$w"); done < <(compgen "$@")
}

_smr_channels() {
  local cur=$1 f
  if [[ $cur == */* ]]; then
    # A path prefix: the channels (PREFIX.smr files) under it, and
    # directories to descend into.
    for f in "$cur"*.smr; do
      [[ -e $f ]] && COMPREPLY+=("${f%.smr}")
    done
    while IFS= read -r f; do
      [[ $f == *.smr-readers* ]] || COMPREPLY+=("$f/")
    done < <(compgen -d -- "$cur")
    # A directory goes on (no space after it).
    [[ ${COMPREPLY[*]} == */ || ${COMPREPLY[*]} == */\ * ]] &&
      compopt -o nospace 2>/dev/null
    return
  fi
  for f in /dev/shm/"$cur"*.smr; do
    [[ -e $f ]] || continue
    f=${f#/dev/shm/}
    COMPREPLY+=("${f%.smr}")
  done
}

_smr() {
  local cur prev cmd i
  COMPREPLY=()
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD - 1]}
  local commands="publish get dump stat watch bench ls rm help"
  if ((COMP_CWORD == 1)); then
    _smr_add -W "$commands --help --version" -- "$cur"
    return
  fi
  cmd=${COMP_WORDS[1]}
  local opts
  case $cmd in
  publish)
    opts="--tsv --csv --crlf --header --key-col --value-col --buffers
          --readers --mode --group --watch --progress --no-progress --quiet --help"
    case $prev in
    --key-col | --value-col | --buffers | --readers) return ;;
    --mode)
      _smr_add -W "0600 0640 0644" -- "$cur"
      return
      ;;
    esac
    ;;
  get)
    opts="--json --null --missing --no-verify --help"
    [[ $prev == --missing ]] && return
    ;;
  dump) opts="--tsv --csv --crlf --help" ;;
  stat) opts="--json --help" ;;
  watch)
    opts="--count --timeout --json --help"
    [[ $prev == --count || $prev == --timeout ]] && return
    ;;
  bench)
    opts="--procs --seconds --help"
    [[ $prev == --procs || $prev == --seconds ]] && return
    ;;
  ls)
    opts="--json --help"
    if [[ $cur != -* ]]; then
      _smr_add -d -- "$cur"
      return
    fi
    ;;
  rm) opts="--force --help" ;;
  help)
    ((COMP_CWORD == 2)) && _smr_add -W "$commands" -- "$cur"
    return
    ;;
  *) return ;;
  esac
  if [[ $cur == -* ]]; then
    _smr_add -W "$opts" -- "$cur"
    return
  fi
  # The first operand is the channel (every operand for rm); publish's
  # second is a file.
  local n=0
  for ((i = 2; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
    --key-col | --value-col | --buffers | --readers | --mode | --group | --count | \
      --timeout | --missing | --procs | --seconds) ((i++)) ;;
    -*) ;;
    *) ((n++)) ;;
    esac
  done
  if ((n == 0)) || [[ $cmd == rm ]]; then
    _smr_channels "$cur"
  elif [[ $cmd == publish ]] && ((n == 1)); then
    _smr_add -f -- "$cur"
  fi
}

complete -F _smr smr

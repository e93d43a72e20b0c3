#!/bin/sh
# Check SONiC CONFIG_DB data against SONiC's public YANG models with libyang's yanglint
# (Debian: libyang2-tools). The models are not part of Pulse: fetch them into a temporary folder.
#
#   sonic_yang_check.sh models SONIC_BUILDIMAGE_GIT_DIR OUT_DIR
#       copies src/sonic-yang-models/yang-models/*.yang of a sonic-buildimage clone (any git
#       directory, bare or not; HEAD) into OUT_DIR and renders yang-templates/*.yang.j2 as
#       SONiC's build does for its Python tools (sonic-types, sonic-extension, sonic-acl, ...).
#   sonic_yang_check.sh check MODELS_DIR [configdb_to_yang_json.py arguments]
#       converts a CONFIG_DB dump (a file, or --redis unix:/path.sock|HOST:PORT) and validates
#       it: `yanglint -t config` with every model; exit status 0 only when yanglint accepts it.
#       Add --stub-ports 400000 when the dump has no PORT table (Pulse's own writes).
#
# Example (a SONiC switch, or a redis-server Pulse drives):
#   sonic_yang_check.sh models ~/src/sonic-buildimage /tmp/sonic-yang/models
#   sonic_yang_check.sh check /tmp/sonic-yang/models --redis unix:/var/run/redis/redis.sock
# tools/sonic/check_pulse_writes.py runs the check for whole example fabrics through the daemon.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}
case "$cmd" in
  models)
    [ $# -eq 3 ] || { echo "usage: $0 models SONIC_BUILDIMAGE_GIT_DIR OUT_DIR" >&2; exit 2; }
    git_dir=$2 out=$3
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    git -C "$git_dir" archive HEAD src/sonic-yang-models/yang-models \
      src/sonic-yang-models/yang-templates | tar -x -C "$tmp"
    mkdir -p "$out"
    cp "$tmp"/src/sonic-yang-models/yang-models/*.yang "$out"/
    for t in "$tmp"/src/sonic-yang-models/yang-templates/*.yang.j2; do
      name=$(basename "$t" .j2)
      /usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1])
import configdb_to_yang_json as c
sys.stdout.write(c.render_template(open(sys.argv[2]).read()))' "$here" "$t" > "$out/$name"
    done
    echo "$(ls "$out"/*.yang | wc -l) models in $out"
    ;;
  check)
    [ $# -ge 2 ] || { echo "usage: $0 check MODELS_DIR [converter arguments]" >&2; exit 2; }
    models=$2
    shift 2
    data=$(mktemp --suffix=.json)
    trap 'rm -f "$data"' EXIT
    /usr/bin/python3 "$here/configdb_to_yang_json.py" --models "$models" "$@" > "$data"
    # Modules other models' must/when expressions reference go first, so those are compiled.
    set -- "$models/sonic-device_metadata.yang" "$models/sonic-mgmt_vrf.yang" \
      "$models/sonic-system-tacacs.yang"
    for m in "$models"/*.yang; do
      case "$m" in */sonic-device_metadata.yang|*/sonic-mgmt_vrf.yang|*/sonic-system-tacacs.yang) ;;
        *) set -- "$@" "$m" ;; esac
    done
    if yanglint -t config -p "$models" "$@" "$data" 2> "$data.err"; then
      rm -f "$data.err"
      echo "yanglint: accepted"
    else
      grep -v 'libyang warn' "$data.err" >&2 || true
      rm -f "$data.err"
      echo "yanglint: REFUSED" >&2
      exit 1
    fi
    ;;
  *)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac

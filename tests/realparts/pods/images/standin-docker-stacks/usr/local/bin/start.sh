#!/bin/bash
# nbgen's behavioural stand-in for the ENTRYPOINT of the jupyter/docker-stacks image family, used by
# tests/realparts/pods when upstream's scripts are not found (tests/realparts/README.md). Written
# for nbgen from the family's documented start convention; it is not upstream's script.
#
# What it does, in order:
#   1. the hooks in /usr/local/bin/start-notebook.d/, by name: a *.sh file is sourced (so it may
#      export variables), another executable file is run, anything else is skipped with a note;
#   2. a uid with no /etc/passwd entry: an entry is appended when /etc/passwd is writable; on a
#      read-only root it cannot be, which is said as a warning, and the start goes on;
#   3. the hooks in /usr/local/bin/before-notebook.d/, the same way;
#   4. exec of its arguments (the image's CMD, or the pod's `args`).
# Not reproduced: starting as root to switch to NB_USER (NB_UID/NB_GID changes, GRANT_SUDO,
# CHOWN_HOME and the like). As root the stand-in says so and runs its arguments as root.

say() { printf '[nbgen stand-in start.sh] %s\n' "$*" >&2; }

run_hook_dir() {
    local dir=$1 hook
    [ -d "$dir" ] || return 0
    for hook in "$dir"/*; do
        [ -e "$hook" ] || continue # an empty directory
        case "$hook" in
        *.sh)
            say "sourcing hook $hook"
            # shellcheck disable=SC1090
            . "$hook"
            ;;
        *)
            if [ -x "$hook" ]; then
                say "running hook $hook"
                "$hook" || say "WARNING: hook $hook exited with status $?; going on"
            else
                say "skipping $hook: neither *.sh nor executable"
            fi
            ;;
        esac
    done
}

uid_in_passwd() {
    local uid
    while IFS=: read -r _ _ uid _; do
        [ "$uid" = "$1" ] && return 0
    done </etc/passwd
    return 1
}

say "arguments: $*"
run_hook_dir /usr/local/bin/start-notebook.d

me=$(id -u)
if [ "$me" = 0 ]; then
    say "running as root: switching to NB_USER is not reproduced by this stand-in; running as root"
elif ! uid_in_passwd "$me"; then
    say "uid $me has no entry in /etc/passwd"
    if [ -w /etc/passwd ]; then
        printf '%s:x:%s:%s:%s:%s:/bin/bash\n' "${NB_USER:-jovyan}" "$me" "$(id -g)" "${NB_USER:-jovyan}" "${HOME:-/home/jovyan}" >>/etc/passwd
        say "added an /etc/passwd entry for uid $me"
    else
        say "WARNING: cannot add an /etc/passwd entry for uid $me (/etc/passwd is not writable); going on"
    fi
fi

run_hook_dir /usr/local/bin/before-notebook.d

if [ "$#" -eq 0 ]; then
    say "nothing to run (no arguments)"
    exit 1
fi
exec "$@"

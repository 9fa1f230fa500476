"""The test PDP as a flex-auth service on a mini host: a sysv init script and its files.

Used by the registry deploy tests and the fleet demo. Everything the service needs is copied into
the host's own /run (the PDP runs as nobody; the machine's /tmp and /root are not visible inside
a mini host, and the venv's python lives under /root, so the host's /usr/bin/python3 runs it): the
server script, the Rego policies of the collection under test, and the Rego engine (the venv's
regopy package, a CPython 3.11 wheel like the host's python3).
"""

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A sysv init script, as a distribution would ship one, for the test PDP (tests/bed/pdp_server.py).
INIT_SCRIPT = r"""#!/bin/sh
### BEGIN INIT INFO
# Provides:          flex-auth
# Required-Start:    $remote_fs
# Required-Stop:     $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: flex-auth compatible policy decision point (netkingdom.warden test bed)
### END INIT INFO
RUN=/run/flex-auth
PIDFILE=$RUN/pdp.pid
READY=$RUN/ready.json
LOG=/var/log/flex-auth/flex-auth.log

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

do_start() {
    running && return 0
    rm -f "$READY"
    PYTHONPATH="$RUN/lib" setsid setpriv --reuid=nobody --regid=nogroup --clear-groups -- /usr/bin/python3 \
        "$RUN/pdp_server.py" --registry @REGISTRY@ --listen @LISTEN@ --policy "$RUN/policy" \
        --token-file /etc/flex-auth/token --decision-log /var/log/flex-auth/decisions.jsonl \
        --pid-file "$PIDFILE" --ready-file "$READY" </dev/null >>"$LOG" 2>&1 &
    pid=$!
    i=0
    while [ $i -lt 100 ]; do
        [ -f "$READY" ] && return 0
        if ! kill -0 $pid 2>/dev/null; then
            echo "flex-auth did not start: $(tail -n 1 "$LOG")"
            return 1
        fi
        sleep 0.1
        i=$((i + 1))
    done
    echo "flex-auth did not get ready in 10s"
    return 1
}

do_stop() {
    running || return 0
    pid=$(cat "$PIDFILE")
    kill -TERM "$pid"
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    rm -f "$PIDFILE" "$READY"
}

case "$1" in
    start) do_start ;;
    stop) do_stop ;;
    restart|force-reload) do_stop; do_start ;;
    reload) running || { echo "flex-auth is not running"; exit 7; }; kill -HUP "$(cat "$PIDFILE")" ;;
    status) if running; then echo "flex-auth is running"; exit 0; else echo "flex-auth is not running"; exit 3; fi ;;
    *) echo "Usage: $0 {start|stop|restart|reload|force-reload|status}"; exit 2 ;;
esac
"""


def install_pdp_service(host, collections, registry, listen, token):
    """Install the PDP service on ``host`` (not started: deploy_registry starts it)."""
    import regopy

    policy = Path(collections) / 'ansible_collections/netkingdom/warden/policy/flex-auth'
    run = Path(host.run_dir) / 'flex-auth'
    shutil.copytree(policy, run / 'policy')
    site = Path(regopy.__file__).resolve().parent.parent
    for name in ('regopy', 'regopy.libs'):
        if (site / name).is_dir():
            shutil.copytree(site / name, run / 'lib' / name, ignore=shutil.ignore_patterns('__pycache__'))
    shutil.copy(ROOT / 'tests/bed/pdp_server.py', run / 'pdp_server.py')
    script = INIT_SCRIPT.replace('@REGISTRY@', registry).replace('@LISTEN@', listen)
    host.write_file('/etc/init.d/flex-auth', script, mode=0o755)
    host.write_file('/etc/flex-auth/token', token + '\n', mode=0o640)
    host.run('chgrp nogroup /etc/flex-auth/token && chown -R nobody:nogroup /run/flex-auth '
             '&& mkdir -p /var/log/flex-auth && chown nobody:nogroup /var/log/flex-auth')

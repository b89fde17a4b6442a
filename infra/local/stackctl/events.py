"""supervisord event listener: counts automatic restarts of the stack's processes.

    events.py STATE_DIR METRICS_PORT

A restart is supervisord moving a process to STARTING from EXITED (it died after running) or
from BACKOFF (it died during start-up); starts by `make up` or supervisorctl come from STOPPED
and are not counted. Each restart is logged (stderr -> logs/supervisor-events.log), kept in
<state>/supervisor/restarts.json for `make status`, and served as Prometheus counters on
127.0.0.1:METRICS_PORT/metrics (0 = no HTTP server):

    lifecycle_supervisor_restarts_total{program}           automatic restarts
    lifecycle_supervisor_unexpected_exits_total{program}   exits supervisord did not ask for
    lifecycle_supervisor_process_up{program}               1 while RUNNING
Standard library only. stdout is supervisord's protocol channel: nothing else is written there.
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

state_dir, port = sys.argv[1], int(sys.argv[2])
path = os.path.join(state_dir, 'supervisor', 'restarts.json')
lock = threading.Lock()
try:
    with open(path) as f:
        counts = json.load(f)  # this listener restarted: keep the counts of this supervisord's lifetime
except (OSError, ValueError):
    counts = {}


def log(msg):
    sys.stderr.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {msg}\n")
    sys.stderr.flush()


def entry(name):
    return counts.setdefault(name, {'restarts': 0, 'unexpected_exits': 0, 'up': 0, 'last_exit': None})


def handle(event, headers):
    name = headers.get('processname', '?')
    frm = headers.get('from_state')
    with lock:
        e = entry(name)
        if event == 'PROCESS_STATE_STARTING' and frm in ('EXITED', 'BACKOFF'):
            e['restarts'] += 1
            log(f'restart {name} #{e["restarts"]} (was {frm}, try {headers.get("tries", "?")})')
        elif event == 'PROCESS_STATE_EXITED':
            e['up'] = 0
            e['last_exit'] = {'at': time.time(), 'expected': headers.get('expected') == '1', 'pid': headers.get('pid')}
            if headers.get('expected') != '1':
                e['unexpected_exits'] += 1
                log(f'exit {name} pid {headers.get("pid")} (unexpected; supervisord restarts it)')
        elif event == 'PROCESS_STATE_RUNNING':
            e['up'] = 1
        elif event in ('PROCESS_STATE_STOPPED', 'PROCESS_STATE_BACKOFF', 'PROCESS_STATE_FATAL'):
            e['up'] = 0
            if event == 'PROCESS_STATE_FATAL':
                log(f'FATAL {name}: gave up after repeated start-up failures (make up starts it again)')
        else:
            return
        tmp = f'{path}.tmp'
        with open(tmp, 'w') as f:
            json.dump(counts, f)
        os.replace(tmp, path)


def metrics_text():
    out = []
    for metric, key, kind, help_text in (
            ('lifecycle_supervisor_restarts_total', 'restarts', 'counter', 'Automatic restarts by supervisord after the process exited or failed to start.'),
            ('lifecycle_supervisor_unexpected_exits_total', 'unexpected_exits', 'counter', 'Process exits supervisord did not ask for.'),
            ('lifecycle_supervisor_process_up', 'up', 'gauge', '1 while supervisord reports the process RUNNING.')):
        out += [f'# HELP {metric} {help_text}', f'# TYPE {metric} {kind}']
        with lock:
            out += [f'{metric}{{program="{name}"}} {e[key]}' for name, e in sorted(counts.items())]
    return '\n'.join(out) + '\n'


class Metrics(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server API)
        body = metrics_text().encode() if self.path.startswith('/metrics') else b'ok\n'
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain; version=0.0.4')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    if port:
        server = ThreadingHTTPServer(('127.0.0.1', port), Metrics)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    stdin, stdout = sys.stdin, sys.stdout
    while True:
        stdout.write('READY\n')
        stdout.flush()
        header = dict(token.split(':', 1) for token in stdin.readline().split())
        payload = stdin.read(int(header['len']))
        first, _, _ = payload.partition('\n')
        try:
            handle(header['eventname'], dict(token.split(':', 1) for token in first.split() if ':' in token))
        except Exception as err:  # never stall supervisord's event queue on a bookkeeping error
            log(f'event {header.get("eventname")}: {err!r}')
        stdout.write('RESULT 2\nOK')
        stdout.flush()


if __name__ == '__main__':
    main()

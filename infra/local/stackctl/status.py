"""`make status`: every process of this stack (state, pid, uptime, restarts, endpoint) and the external services."""
import json
import os
import time

import apps
import health
import preflight
from ports import processes_of


def rows(ctx):
    info = ctx.sup.info()
    restarts = ctx.sup.restarts()
    try:
        with open(os.path.join(ctx.sup.dir, 'services.json')) as f:
            services = json.load(f)
    except (OSError, ValueError):
        services = {}
    endpoints = {name: s['endpoint'] for name, s in services.items()}
    for prog in apps.load_plan(ctx):
        endpoints[prog.name] = f'http://127.0.0.1:{prog.ports[0].port}' + (
            f' (SDK metrics :{prog.ports[1].port})' if len(prog.ports) > 1 else '')
    out = []
    for name, s in services.items():
        if s['action'] == 'external' and name not in info:
            url = s['endpoint'].split()[0]
            up = {'redis': lambda: health.service_ok(ctx.stack, 'redis'), 'mlflow': lambda: health.http_ok(url + '/health'),
                  'temporal': lambda: health.temporal_ok(ctx.stack.venv, url)}[name]()
            out.append({'name': name, 'state': 'external' if up else 'external-down', 'pid': None,
                        'uptime_s': None, 'restarts': None, 'endpoint': s['endpoint']})
    for name, i in sorted(info.items(), key=lambda kv: _order(kv[0])):
        running = i['statename'] == 'RUNNING'
        r = restarts.get(name, {})
        out.append({'name': name, 'state': i['statename'], 'pid': i['pid'] or None,
                    'uptime_s': int(i['now'] - i['start']) if running else None,
                    'restarts': r.get('restarts', 0), 'unexpected_exits': r.get('unexpected_exits', 0),
                    'endpoint': endpoints.get(name, ''), 'log': f"{ctx.sup.logs}/{name}.log"})
    if not info:
        for pid, name in processes_of(ctx.sup.server_url):
            out.append({'name': name, 'state': 'ORPHAN', 'pid': pid, 'uptime_s': None, 'restarts': None,
                        'endpoint': 'its supervisord died; `make down` stops it'})
    for pid, name in preflight.legacy_pids(ctx.stack.state).items():
        out.append({'name': name, 'state': 'UNSUPERVISED', 'pid': pid, 'uptime_s': None, 'restarts': None,
                    'endpoint': 'started by the pre-supervisord scripts; `make down` stops it'})
    return out


def _order(name):
    for i, prefix in enumerate(('supervisor-events', 'redis', 'temporal', 'mlflow', 'prometheus',
                                'pipeline-worker', 'training-worker', 'inference-worker', 'payload-logger', 'api')):
        if name.startswith(prefix):
            return i, name
    return 99, name


def _uptime(seconds):
    if seconds is None:
        return '-'
    h, rem = divmod(seconds, 3600)
    return f'{h}:{rem // 60:02d}:{rem % 60:02d}'


def show(ctx, as_json=False):
    data = rows(ctx)
    if as_json:
        print(json.dumps({'state_dir': ctx.stack.state, 'supervisord_pid': ctx.sup.pid(), 'processes': data}, indent=1))
        return
    print(f'stack state dir {ctx.stack.state}; supervisord '
          + (f'pid {ctx.sup.pid()}, log {ctx.sup.logs}/supervisord.log' if ctx.sup.pid() else 'not running'))
    print(f"{'PROCESS':<22}{'STATE':<14}{'PID':<9}{'UPTIME':<10}{'RESTARTS':<10}ENDPOINT")
    for r in data:
        restarts = '-' if r['restarts'] is None else str(r['restarts'])
        print(f"{r['name']:<22}{r['state']:<14}{str(r['pid'] or '-'):<9}{_uptime(r['uptime_s']):<10}{restarts:<10}{r['endpoint']}")
    for prog in apps.load_plan(ctx):
        if prog.kind == 'api' and any(r['name'] == prog.name for r in data):
            code, body = health.http(prog.ready)
            print(f'{prog.name} /readyz: {code or "no answer"} {body.strip()[:160]}')
    if not data:
        print('(nothing running)')
    print(f'as of {time.strftime("%H:%M:%S")}')

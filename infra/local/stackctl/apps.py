"""Application processes: API instances, inference workers, pipeline and training workers."""
import hashlib
import json
import os
import time

from config import Port, app_programs, check_overlaps, forwarded_env, service_programs
from feedback_token import ensure_feedback_token
import health
import preflight
from preflight import PreflightError
from services import ORDER
from supervision import _write

JOBS = ('api', 'inference-worker', 'payload-logger', 'pipeline-worker', 'training-worker')


def all_ports(s, progs):
    """Every port the stack plans, services included, for the overlap check."""
    extra = [pt for prog in service_programs(s, ORDER) for pt in prog.ports]
    extra.append(Port(s.ports['SUPERVISOR_METRICS_PORT'], 'restart counter metrics', 'SUPERVISOR_METRICS_PORT'))
    check_overlaps(progs, extra)
    return [pt for prog in progs for pt in prog.ports] + extra[-1:]


def check(ctx):
    """Validation and port ownership of the app processes (before anything is built or started)."""
    progs = app_programs(ctx.stack)
    errors = preflight.check_ports(ctx, all_ports(ctx.stack, progs))
    if errors:
        raise PreflightError('\n'.join(errors))
    return progs


def build_id(root):
    """Hash of the compiled code: a rebuilt dist/ with different code restarts the processes on `make up`."""
    h = hashlib.sha256()
    for d, _, files in sorted(os.walk(os.path.join(root, 'dist'))):
        for f in sorted(files):
            if f.endswith('.js'):
                with open(os.path.join(d, f), 'rb') as fh:
                    h.update(f.encode() + fh.read())
    return h.hexdigest()[:16]


def env_for(s):
    fwd = forwarded_env(s)
    fwd['LIFECYCLE_BUILD_ID'] = build_id(s.root)

    def env_of(prog):
        env = dict(fwd)
        for k, v in prog.defaults.items():
            env.setdefault(k, v)
        env.update(prog.env)
        return env
    return env_of


def up(ctx, log):
    s = ctx.stack
    progs = check(ctx)
    ctx.sup.ensure(s.ports['SUPERVISOR_METRICS_PORT'])
    ensure_feedback_token(s)
    ctx.sup.write_unit('apps', progs, env_for(s))
    write_targets(s, progs)
    save_plan(ctx, progs)
    added, changed, removed = ctx.sup.update()
    ctx.sup.start([p.name for p in progs])
    kept = len(progs) - len(added) - len(changed)
    log(f'apps: {len(added)} started, {len(changed)} restarted with new settings, {len(removed)} stopped, {kept} kept: '
        + ', '.join(p.name for p in progs))
    wait(ctx, progs, 'healthy', 120)


def wait(ctx, progs, what, seconds):
    """Each process RUNNING, answering its health (or readiness) URL, on ports its own process holds."""
    pending, deadline, last_note = list(progs), time.time() + seconds, time.time()
    restarts = {p.name: ctx.sup.restart_count(p.name) for p in progs}
    while pending:
        info = ctx.sup.info()
        for prog in list(pending):
            i = info.get(prog.name, {})
            if i.get('statename') in ('FATAL', 'BACKOFF', 'EXITED') or ctx.sup.restart_count(prog.name) > restarts[prog.name]:
                raise PreflightError(
                    f"{prog.name} exited during start-up (now {i.get('statename')}{', ' + i['spawnerr'] if i.get('spawnerr') else ''}); supervisord keeps "
                    f"retrying it, `make down` stops everything. Log {ctx.sup.logs}/{prog.name}.log:\n{ctx.sup.log_tail(prog.name)}")
            if i.get('statename') != 'RUNNING' or not answers(prog, what):
                continue
            foreign = [pt for pt in prog.ports if preflight.port_owner(ctx, pt.port) != ('ours', prog.name)]
            if foreign:
                raise PreflightError(f'{prog.name} answers, but port(s) {[pt.port for pt in foreign]} are not held by its '
                                     f'process (pid {i.get("pid")}): ' + '; '.join(
                                         preflight.port_message(pt, *preflight.port_owner(ctx, pt.port)) for pt in foreign))
            pending.remove(prog)
        if not pending:
            return
        if time.time() > deadline:
            names = ', '.join(p.name for p in pending)
            tail = ctx.sup.log_tail(pending[0].name)
            raise PreflightError(f'not {what} after {seconds}s: {names} (log {ctx.sup.logs}/{pending[0].name}.log):\n{tail}')
        if time.time() - last_note > 15:
            print(f'  waiting until {what}: {", ".join(p.name for p in pending)}', flush=True)
            last_note = time.time()
        time.sleep(0.5)


def answers(prog, what):
    if what == 'healthy':
        return health.http_ok(prog.health)
    status, body = health.http(prog.ready)
    expected = prog.env.get('API_INSTANCE_ID')
    if status == 200 and expected:  # the API's /readyz names its instance: it must be the one this stack started
        try:
            instance = json.loads(body).get('instance', expected)
        except ValueError:
            instance = None
        if instance != expected:
            raise PreflightError(f'{prog.ready} answered as instance {instance!r}, not {expected!r} that this stack started')
    # A worker without /readyz yet (404) counts as ready once healthy; the API's /readyz is required.
    return status == 200 or (status == 404 and prog.kind != 'api' and health.http_ok(prog.health))


def wait_ready(ctx, seconds):
    progs = [p for p in load_plan(ctx) if p.kind in JOBS]
    wait(ctx, progs, 'ready', seconds)


def write_targets(s, progs):
    """Prometheus file-based service discovery: <state>/prometheus/targets/<job>.json."""
    d = f'{s.state}/prometheus/targets'
    os.makedirs(d, exist_ok=True)
    groups = {job: [{'targets': [f'127.0.0.1:{p.ports[0].port}' for p in progs if p.kind == job]}] for job in JOBS}
    groups['temporal-sdk'] = [
        {'targets': [f'127.0.0.1:{p.ports[1].port}' for p in progs if p.kind == kind], 'labels': {'process': kind}}
        for kind in ('pipeline-worker', 'training-worker')]
    groups['supervisor'] = [{'targets': [f"127.0.0.1:{s.ports['SUPERVISOR_METRICS_PORT']}"]}]
    for job, content in groups.items():
        _write(f'{d}/{job}.json', json.dumps(content, indent=1) + '\n')


def save_plan(ctx, progs):
    data = [{'name': p.name, 'kind': p.kind, 'ports': [[pt.port, pt.what, pt.variable] for pt in p.ports],
             'health': p.health, 'ready': p.ready, 'instance': p.env.get('API_INSTANCE_ID')} for p in progs]
    _write(os.path.join(ctx.sup.dir, 'apps.json'), json.dumps(data, indent=1))


def load_plan(ctx):
    from config import Program
    try:
        with open(os.path.join(ctx.sup.dir, 'apps.json')) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return []
    return [Program(name=d['name'], kind=d['kind'], command=[], health=d['health'], ready=d['ready'],
                    env={'API_INSTANCE_ID': d['instance']} if d.get('instance') else {},
                    ports=[Port(*pt) for pt in d['ports']]) for d in data]

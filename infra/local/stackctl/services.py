"""Backing services: Redis, Temporal dev server, MLflow (SQLite or PostgreSQL), Prometheus."""
import os
import time

from config import service_programs
import health
import preflight
from preflight import PreflightError

ORDER = ('redis', 'temporal', 'mlflow', 'prometheus')
READY_SECONDS = {'redis': 20, 'temporal': 60, 'mlflow': 180, 'prometheus': 60}
SERVICE_ENV = ('PATH', 'HOME', 'USER', 'LANG', 'TZ', 'TMPDIR')


def service_env(stack, prog=None):
    """Backing services get a small, stable environment (a changed app setting never restarts them), plus their own."""
    env = {k: v for k, v in os.environ.items() if k in SERVICE_ENV}
    env['LIFECYCLE_STATE_DIR'] = stack.state
    env.update(prog.env if prog else {})
    return env


def plan(ctx, names):
    """Decides every service first, so nothing starts when one of them cannot."""
    decisions, errors = {}, []
    for name in names:
        action, detail = preflight.decide(ctx, name)
        decisions[name] = (action, detail)
        if action == 'error':
            errors.append(f'{name}: {detail}')
    if errors:
        raise PreflightError('\n'.join(errors))
    return decisions


def up(ctx, names, log):
    decisions = plan(ctx, names)
    to_start = [d[1] for d in decisions.values() if d[0] == 'start']
    if to_start:
        ctx.sup.ensure(ctx.metrics_port)
    for name, (action, detail) in decisions.items():
        if action in ('external', 'skip'):
            log(f'{name}: {action} {detail}')
        elif action == 'ours':
            log(f'{name}: running ({detail})')
            wanted = service_programs(ctx.stack, [name])[0]
            if ctx.sup.unit_command(f'svc-{name}') not in (None, ctx.sup.command_line(wanted)):
                log(f'note: {name} runs with other settings than these (e.g. MLFLOW_BACKEND, ports); '
                    'stop it first (make down / services.sh down) to apply them')
    save(ctx, decisions)
    for prog in to_start:
        prepare(ctx, prog)
        ctx.sup.write_unit(f'svc-{prog.name}', [prog], lambda p: service_env(ctx.stack, p))
    if to_start:
        ctx.sup.update()
        ctx.sup.start([p.name for p in to_start])
    for prog in to_start:
        wait_ready(ctx, prog, READY_SECONDS[prog.name])
        log(f"{prog.name}: started (pid {ctx.sup.info()[prog.name]['pid']}, log {ctx.sup.logs}/{prog.name}.log)")
    return {name: detail for name, (action, detail) in decisions.items() if action == 'external'}


def endpoint(s, name, action='start'):
    ui = f" (UI http://127.0.0.1:{s.ports['TEMPORAL_UI_PORT']})" if action != 'external' else ''
    redis = f'redis-cluster {s.redis_cluster_nodes}' if s.redis_cluster_nodes else s.redis_url
    return {'redis': redis, 'temporal': s.temporal_address + ui,
            'mlflow': s.mlflow_uri + (' (PostgreSQL)' if s.mlflow_backend == 'postgres' else ''),
            'prometheus': f"http://127.0.0.1:{s.ports['PROMETHEUS_PORT']}"}[name]


def forget(ctx):
    """Nothing of this stack runs any more: `make status` no longer lists its external services or apps."""
    for f in ('services.json', 'apps.json'):
        try:
            os.unlink(os.path.join(ctx.sup.dir, f))
        except FileNotFoundError:
            pass


def save(ctx, decisions):
    """<state>/supervisor/services.json: what each service is (for `make status`)."""
    import json
    from supervision import _write
    path = os.path.join(ctx.sup.dir, 'services.json')
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        data = {}
    for name, (action, detail) in decisions.items():
        data[name] = {'action': action, 'detail': detail if isinstance(detail, str) else '',
                      'endpoint': endpoint(ctx.stack, name, action)}
    _write(path, json.dumps(data, indent=1))


def prepare(ctx, prog):
    s = ctx.stack
    if prog.name == 'temporal':
        os.makedirs(f'{s.state}/temporal', exist_ok=True)
    elif prog.name == 'mlflow':
        os.makedirs(f'{s.state}/mlflow/artifacts', exist_ok=True)
        if s.mlflow_backend == 'postgres':
            ensure_database(s.mlflow_database_url, reset=os.environ.get('MLFLOW_DATABASE_RESET') == '1',
                            artifacts=f'{s.state}/mlflow/artifacts')
    elif prog.name == 'prometheus':
        link_prometheus_config(s)


def link_prometheus_config(s):
    """<state>/prometheus/prometheus.yml -> infra/prometheus/prometheus.yml: its relative paths
    (targets/*.json written by the stack, alerts.yml) then resolve inside the state dir."""
    d = f'{s.state}/prometheus'
    os.makedirs(f'{d}/targets', exist_ok=True)
    os.makedirs(f'{d}/data', exist_ok=True)
    for name in ('prometheus.yml', 'alerts.yml'):
        link, target = f'{d}/{name}', f'{s.root}/infra/prometheus/{name}'
        if os.path.islink(link) and os.readlink(link) == target:
            continue
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(target, link)


def ensure_database(url, reset, artifacts):
    """Creates MLflow's PostgreSQL database if missing (reset=True: drops it first, and the artifacts)."""
    import shutil
    from urllib.parse import urlsplit, urlunsplit
    import psycopg2  # psycopg2-binary, pinned in infra/python/requirements.txt
    u = urlsplit(url)
    db = u.path.lstrip('/')
    admin = urlunsplit((u.scheme, u.netloc, '/postgres', u.query, ''))
    try:
        conn = psycopg2.connect(admin, connect_timeout=5)
    except psycopg2.OperationalError as err:
        raise PreflightError(f'mlflow: PostgreSQL at MLFLOW_DATABASE_URL={url} is not reachable: {str(err).strip()}')
    conn.autocommit = True
    with conn.cursor() as cur:
        if reset:
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            shutil.rmtree(artifacts, ignore_errors=True)
            os.makedirs(artifacts, exist_ok=True)
        cur.execute('SELECT 1 FROM pg_database WHERE datname = %s', (db,))
        if not cur.fetchone():
            cur.execute(f'CREATE DATABASE "{db}"')
    conn.close()


def wait_ready(ctx, prog, seconds):
    """Healthy, and every port of it held by this stack's process (not someone else answering)."""
    deadline = time.time() + seconds
    restarts = ctx.sup.restart_count(prog.name)
    while True:
        info = ctx.sup.info().get(prog.name, {})
        state = info.get('statename')
        if state in ('FATAL', 'BACKOFF', 'EXITED') or ctx.sup.restart_count(prog.name) > restarts:
            raise PreflightError(f'{prog.name} exited during start-up (now {state}{", " + info["spawnerr"] if info.get("spawnerr") else ""}); '
                                 f'log {ctx.sup.logs}/{prog.name}.log:\n{ctx.sup.log_tail(prog.name)}')
        if state == 'RUNNING' and health.service_ok(ctx.stack, prog.kind, prog.health):
            foreign = [pt for pt in prog.ports if preflight.port_owner(ctx, pt.port)[0] != 'ours']
            if not foreign:
                return
            if time.time() > deadline:
                raise PreflightError(f'{prog.name}: ports {[pt.port for pt in foreign]} are not held by its process')
        if time.time() > deadline:
            raise PreflightError(f'{prog.name} not ready after {seconds}s; log {ctx.sup.logs}/{prog.name}.log:\n'
                                 f'{ctx.sup.log_tail(prog.name)}')
        time.sleep(0.3)


def down(ctx, names, log):
    """Stops the named services this stack started; never an external one."""
    info = ctx.sup.info()
    for name in reversed([n for n in ORDER if n in names]):
        if name in info:
            ctx.sup.remove_unit(f'svc-{name}')
            log(f'stopping {name}')
    if info:
        ctx.sup.update()
    stop_legacy(ctx, names, log)


def stop_legacy(ctx, names, log):
    """Processes of the pre-supervisord scripts (pidfiles): SIGTERM their process group, SIGKILL after 30 s."""
    stopped = []
    for pid, name in preflight.legacy_pids(ctx.stack.state).items():
        if names is not None and name not in names:
            continue
        stopped.append(name)
        log(f'stopping {name} (pid {pid}, started before supervision)')
        terminate(pid)
        try:
            os.unlink(os.path.join(ctx.stack.state, 'run', f'{name}.pid'))
        except FileNotFoundError:
            pass
    return stopped


def terminate(pid, group=True, grace=30):
    import signal
    from ports import alive
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig) if group else os.kill(pid, sig)
        except OSError:
            try:
                os.kill(pid, sig)
            except OSError:
                return
        deadline = time.time() + grace
        while alive(pid) and time.time() < deadline:
            time.sleep(0.2)
        if not alive(pid):
            return

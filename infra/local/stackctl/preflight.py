"""Port ownership: before anything starts, every port the stack needs is free or already this stack's.

A port held by anyone else stops `make up` with the port, the holder (pid, command, working
dir, and whose Lifecycle stack it is) and the variable that moves it.
"""
import os

from config import redis_is_local, service_programs, temporal_is_local, mlflow_is_local
import health
import ports as P


class PreflightError(Exception):
    pass


def legacy_pids(state):
    """Processes started by the pre-supervisord scripts (<state>/run/<name>.pid), still alive: {pid: name}."""
    run, out = os.path.join(state, 'run'), {}
    for f in os.listdir(run) if os.path.isdir(run) else []:
        if f.endswith('.pid') and f != 'supervisord.pid':
            try:
                with open(os.path.join(run, f)) as fh:
                    pid = int(fh.read().strip())
            except (OSError, ValueError):
                continue
            if P.alive(pid):
                out[pid] = f[:-4]
    return out


def known_pids(ctx):
    """{pid: program} of this stack: supervised programs (by supervisord's own account) and legacy pidfiles.
    Some programs rewrite their environment (redis-server's process title), so the marker alone is not enough."""
    known = dict(ctx.legacy)
    try:
        known.update({i['pid']: name for name, i in ctx.sup.info().items() if i['pid']})
    except ImportError:  # system python before the venv exists
        pass
    return known


def port_owner(ctx, port):
    """('free', None) | ('ours', program) | ('foreign', [pids]) | ('hidden', None)."""
    pids = P.holders(port)
    if not pids:
        return ('free', None) if P.port_free(port) else ('hidden', None)
    known = known_pids(ctx)
    foreign = [pid for pid in pids if P.owner(pid, ctx.sup.server_url, known) is None]
    if foreign:
        return 'foreign', foreign
    return 'ours', P.owner(pids[0], ctx.sup.server_url, known)


def port_message(pt, status, pids):
    if status == 'hidden':
        holder = f'a process this user cannot see (try: sudo ss -ltnp "sport = :{pt.port}")'
    else:
        holder = P.describe(pids[0]) + (f' and {len(pids) - 1} more process(es) of it' if len(pids) > 1 else '')
    return f'port {pt.port} ({pt.what}; moved by {pt.variable}) is taken by {holder}'


def check_ports(ctx, port_list):
    """Messages for ports held by someone else; [] when each is free or ours."""
    errors = []
    for pt in port_list:
        status, pids = port_owner(ctx, pt.port)
        if status in ('foreign', 'hidden'):
            errors.append(port_message(pt, status, pids))
    return errors


def hints(errors_text, offset=None):
    """How to get out of it: move this stack's ports (by an offset checked free now), or stop the other Lifecycle stack(s) named."""
    if offset:
        lines = [f'To run beside them, move the ports with the variables named, or all at once with LIFECYCLE_PORT_OFFSET={offset} '
                 f'(every port of that plan is free now and none lands on this one): LIFECYCLE_PORT_OFFSET={offset} make up']
    else:
        lines = ['To run beside them, move the ports with the variables named (no LIFECYCLE_PORT_OFFSET up to 50000 '
                 'leaves every port free: ports set one by one do not move with it).']
    for state, root in sorted(set(P.STACK_RE.findall(errors_text))):
        lines.append(f'To stop the other Lifecycle stack: cd {root} && LIFECYCLE_STATE_DIR={state} make down')
    return '\n'.join(lines)


def decide(ctx, name):
    """What to do about one backing service: (action, detail).

    ours      this stack's supervisord runs it (or a legacy pidfile names it): reuse
    external  someone else's, reused knowingly (REDIS_URL, or an explicit TEMPORAL_ADDRESS / MLFLOW_TRACKING_URI)
    start     not running: this stack starts it
    skip      not installed (Prometheus is optional)
    error     held by someone else: the message says by whom and which variable moves it
    """
    s = ctx.stack
    prog = service_programs(s, [name])[0]
    info = ctx.info.get(name)
    if info and info['statename'] in ('RUNNING', 'STARTING', 'BACKOFF'):
        return 'ours', f"pid {info['pid']}"
    if name == 'redis':
        if health.service_ok(s, 'redis'):
            status, pids = port_owner(ctx, prog.ports[0].port) if redis_is_local(s) else ('foreign', [])
            if status == 'ours':
                return 'ours', 'unsupervised: started by the pre-supervisord scripts; make down stops it'
            where = f'Redis Cluster {s.redis_cluster_nodes}' if s.redis_cluster_nodes else s.redis_url
            return 'external', f'{where} (not started by this stack; never stopped by it)'
        if s.redis_cluster_nodes:
            return 'error', f'no node of REDIS_CLUSTER_NODES={s.redis_cluster_nodes} answers (the stack never starts a cluster)'
        if not redis_is_local(s):
            return 'error', f'Redis at REDIS_URL={s.redis_url} is not reachable (the stack only starts a local one)'
        return _free_or_error(ctx, prog, 'redis')
    if name == 'prometheus' and not _which('prometheus'):
        return 'skip', 'not installed (apt-get install prometheus)'
    explicit = {'temporal': s.temporal_explicit, 'mlflow': s.mlflow_explicit}.get(name, False)
    local = {'temporal': temporal_is_local, 'mlflow': mlflow_is_local}.get(name, lambda _: True)(s)
    status, pids = port_owner(ctx, prog.ports[0].port) if local else ('foreign', [])
    if status == 'ours':
        return 'ours', 'unsupervised: started by the pre-supervisord scripts; make down stops it'
    if status in ('foreign', 'hidden') and explicit and health.service_ok(s, name):
        where = s.temporal_address if name == 'temporal' else s.mlflow_uri
        return 'external', f'{where} (set explicitly; not started by this stack, never stopped by it)'
    if not local:
        var = 'TEMPORAL_ADDRESS' if name == 'temporal' else 'MLFLOW_TRACKING_URI'
        return 'error', f'{name} at {var} is not reachable (the stack only starts a local one)'
    return _free_or_error(ctx, prog, name)


def _free_or_error(ctx, prog, name):
    errors = check_ports(ctx, prog.ports)
    if errors:
        hint = {'temporal': '\n  (to use that Temporal knowingly as an external one, set TEMPORAL_ADDRESS to it)',
                'mlflow': '\n  (to use that MLflow knowingly as an external one, set MLFLOW_TRACKING_URI to it)'}.get(name, '')
        return 'error', '\n  '.join(errors) + hint
    return 'start', prog


def _which(binary):
    return any(os.access(os.path.join(d, binary), os.X_OK) for d in os.environ.get('PATH', '').split(os.pathsep) if d)

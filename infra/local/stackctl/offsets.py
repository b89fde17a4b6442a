"""Port offsets that cannot collide: the plan of one stack against the plan of another one moved by an offset.

A second stack beside the first is started with LIFECYCLE_PORT_OFFSET (the README suggests SUGGESTED).
That only works when no port of the plan plus the offset is another port of the plan (9090 + 100 was
the restart-counter port 9190 once), so the layout is chosen to keep SUGGESTED clear (tested), a port
error suggests an offset checked against this plan and against the ports taken right now, and `make up`
with an offset that lands on the default plan names the clash. Standard library only.
"""
import config
from ports import port_free

SUGGESTED = 100  # the README's offset for a second stack beside a default one
STEP = 100
# Shared by design, not moved by an offset: stacks on one machine share its Redis (each with its own prefix).
SHARED = ('Redis',)


def plan_ports(env):
    """Every port a stack with these settings would listen on: apps, services, restart counter."""
    s = config.load(env)
    services = [n for n, explicit in (('temporal', s.temporal_explicit), ('mlflow', s.mlflow_explicit), ('prometheus', False)) if not explicit]
    progs = config.app_programs(s) + config.service_programs(s, services)
    out = [pt for prog in progs for pt in prog.ports if pt.what not in SHARED]
    out.append(config.Port(s.ports['SUPERVISOR_METRICS_PORT'], 'restart counter metrics', 'SUPERVISOR_METRICS_PORT'))
    return out


def with_offset(env, offset):
    moved = dict(env)
    moved['LIFECYCLE_PORT_OFFSET'] = str(offset)
    return moved


def offset_of(env):
    raw = (env.get('LIFECYCLE_PORT_OFFSET') or '0').strip()
    return int(raw) if raw.isdigit() else 0


def clashes(mine, theirs):
    """[(my port, their port)] that are the same number."""
    by_port = {pt.port: pt for pt in mine}
    return [(by_port[pt.port], pt) for pt in theirs if pt.port in by_port]


def describe(pairs, mine_at, theirs_at):
    return [f'port {a.port} is {a.what} ({a.variable}) of the stack at LIFECYCLE_PORT_OFFSET={mine_at} '
            f'and {b.what} ({b.variable}) of the stack at LIFECYCLE_PORT_OFFSET={theirs_at}' for a, b in pairs]


def beside(env, delta):
    """Clashes between this stack and one moved `delta` further (the second stack of the README)."""
    at = offset_of(env)
    return describe(clashes(plan_ports(env), plan_ports(with_offset(env, at + delta))), at, at + delta)


def against_default(env):
    """Clashes between this stack's plan and a default one (offset 0, no port set): the two could never run side by side."""
    at = offset_of(env)
    if at == 0:
        return []
    moved_by_hand = set(config.DEFAULT_PORTS) | {'TEMPORAL_ADDRESS', 'MLFLOW_TRACKING_URI'}
    default = {k: v for k, v in env.items() if k not in moved_by_hand}
    return describe(clashes(plan_ports(with_offset(default, 0)), plan_ports(env)), 0, at)


def suggest(env, free=port_free):
    """The smallest multiple of STEP whose whole plan misses this plan and every port taken now; None if none."""
    mine = plan_ports(env)
    at = offset_of(env)
    for offset in range(STEP, 50001, STEP):
        if offset == at:
            continue
        try:
            theirs = plan_ports(with_offset(env, offset))
        except config.ConfigError:
            return None  # past the last port number
        if not clashes(mine, theirs) and all(free(pt.port) for pt in theirs):
            return offset
    return None

"""stackctl: the local stack's control tool (run by infra/local/*.sh; `python infra/local/stackctl CMD`).

  env                         shell exports of the resolved settings: eval "$(stackctl env)"
  check [--apps] [SERVICE..]  validate settings and port ownership only; exit 2 naming port, holder, variable
  plan [--json] [--beside N]  every port of this stack's plan; --beside N: exit 2 naming each port it shares
                              with a stack moved N further (the README's second stack: --beside 100)
  services up|down [SERVICE..] backing services: redis temporal mlflow prometheus (default: all four);
                              up --restart-counter also serves the restart counters (else `apps up` does)
  apps up                     API instances and workers (after `npm run build`); waits until each is healthy
  wait-ready [SECONDS]        waits until every API's /readyz (and each worker's) answers 200 from its own process
  status [--json]             every process: state, pid, uptime, restarts, endpoint; external services
  down                        stops everything this state dir's supervisord runs, orphans and legacy pidfiles
  targets                     writes the Prometheus config links and file_sd targets without starting anything
  ping redis|temporal|mlflow  exit status only
  ctl ARGS..                  supervisorctl on this stack (status, tail -f api-1, restart inference-worker-2, ...)
"""
import os
import shlex
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import apps  # noqa: E402
import config  # noqa: E402
import health  # noqa: E402
import offsets  # noqa: E402
import preflight  # noqa: E402
import services  # noqa: E402
import status  # noqa: E402
from ports import processes_of  # noqa: E402
from supervision import Supervisor  # noqa: E402


def log(msg):
    import time
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Ctx:
    def __init__(self, stack, stack_mode=False):
        self.stack = stack
        self.sup = Supervisor(stack)
        self.legacy = preflight.legacy_pids(stack.state)
        self.metrics_port = stack.ports['SUPERVISOR_METRICS_PORT'] if stack_mode else None
        try:
            self.info = self.sup.info()
        except ImportError:  # system python before the venv exists: ownership comes from /proc alone
            self.info = {}


def lock(ctx):
    import fcntl
    ctx.lock_file = open(os.path.join(ctx.sup.run, 'stackctl.lock'), 'w')
    try:
        fcntl.flock(ctx.lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log(f'waiting for another stackctl on {ctx.stack.state} to finish')
        fcntl.flock(ctx.lock_file, fcntl.LOCK_EX)


def cmd_env(ctx):
    s, p = ctx.stack, ctx.stack.ports
    exports = {'LIFECYCLE_STATE_DIR': s.state, 'REDIS_URL': s.redis_url, 'REDIS_PREFIX': s.redis_prefix, 'TEMPORAL_ADDRESS': s.temporal_address,
               'MLFLOW_TRACKING_URI': s.mlflow_uri, 'API_URL': f"http://127.0.0.1:{p['PORT']}",
               'API_URLS': ' '.join(f"http://127.0.0.1:{p['PORT'] + i}" for i in range(s.counts['API_INSTANCES'])),
               'TEMPORAL_UI_URL': f"http://127.0.0.1:{p['TEMPORAL_UI_PORT']}",
               'PROMETHEUS_URL': f"http://127.0.0.1:{p['PROMETHEUS_PORT']}",
               'SUPERVISOR_CONF': ctx.sup.conf, 'STACK_LOGS': ctx.sup.logs,
               'FEEDBACK_TOKEN_FILE': f'{s.state}/feedback-token'}
    if s.redis_cluster_nodes:
        exports['REDIS_CLUSTER_NODES'] = s.redis_cluster_nodes
    for k, v in exports.items():
        print(f'export {k}={shlex.quote(v)}')


def cmd_check(ctx, args):
    names = [a for a in args if not a.startswith('--')] or list(services.ORDER)
    for clash in offsets.against_default(os.environ):
        log(f'note: {clash}: this stack cannot run beside a default one (python3 infra/local/stackctl plan --beside N checks an offset)')
    errors = []
    for step in ((lambda: apps.check(ctx)) if '--apps' in args else None, lambda: services.plan(ctx, names)):
        try:
            if step:
                step()
        except preflight.PreflightError as err:
            errors.append(str(err))
    if errors:
        raise preflight.PreflightError('\n'.join(errors))


def cmd_plan(args):
    import json
    ports = offsets.plan_ports(os.environ)
    if '--json' in args:
        print(json.dumps([{'port': pt.port, 'what': pt.what, 'variable': pt.variable} for pt in ports]))
    else:
        print('\n'.join(f'{pt.port:>5}  {pt.what}  ({pt.variable})' for pt in sorted(ports, key=lambda p: p.port)))
    if '--beside' in args:
        delta = int(args[args.index('--beside') + 1])
        found = offsets.beside(os.environ, delta)
        if found:
            raise preflight.PreflightError(f'a stack moved {delta} further lands on this one:\n  ' + '\n  '.join(found))


def cmd_down(ctx):
    info = ctx.sup.info()
    names = [n for n in info if n != 'supervisor-events']
    was_running = bool(ctx.sup.pid())
    if was_running:
        log(f"stopping {len(names)} processes: {', '.join(sorted(names, key=status._order)) or '-'}")
        ctx.sup.shutdown()
    orphans = stop_orphans(ctx)
    legacy = services.stop_legacy(ctx, None, log)
    for unit in ctx.sup.units():
        ctx.sup.remove_unit(unit)
    services.forget(ctx)
    if not (was_running or orphans or legacy):
        log(f'nothing of this stack was running (state dir {ctx.stack.state}); external services are never stopped')


def stop_orphans(ctx, why=''):
    """Processes of this stack whose supervisord died (kill -9, OOM): nobody restarts them, so they go."""
    orphans = processes_of(ctx.sup.server_url)
    for pid, name in orphans:
        log(f'stopping {name} (pid {pid}, left behind by a supervisord that died{"; " + why if why else ""})')
        services.terminate(pid)
    return orphans


def cmd_services(ctx, args):
    action, names = (args[0] if args else 'up'), args[1:] or list(services.ORDER)
    unknown = [n for n in names if n not in services.ORDER]
    if unknown:
        raise SystemExit(f"unknown service(s) {unknown}: choose from {' '.join(services.ORDER)}")
    if action == 'up':
        services.up(ctx, names, log)
    elif action == 'running':
        info = ctx.sup.info()
        print('\n'.join(n for n in names if info.get(n, {}).get('statename') in ('RUNNING', 'STARTING')))
    elif action == 'down':
        services.down(ctx, names, log)
        if ctx.sup.pid() and not ctx.sup.units():
            ctx.sup.shutdown()  # nothing left to supervise
        if not ctx.sup.units():
            services.forget(ctx)
    else:
        raise SystemExit('usage: stackctl services up|down|running [redis temporal mlflow prometheus]')


def main(argv):
    if not argv or argv[0] in ('-h', '--help', 'help'):
        print(__doc__)
        return 0
    cmd, args = argv[0], argv[1:]
    try:
        stack = config.load()
        if cmd == 'plan':  # settings only: no state dir, no supervisord
            cmd_plan(args)
            return 0
        for warning in stack.warnings if cmd in ('check', 'apps') else ():
            log(f'note: {warning}')
        ctx = Ctx(stack, stack_mode=cmd in ('apps', 'check') or '--restart-counter' in args)
        args = [a for a in args if a != '--restart-counter']
        if cmd in ('services', 'apps', 'down') and args[:1] != ['running']:
            lock(ctx)  # one change at a time per state dir (several shells may run services.sh up at once)
            if cmd != 'down' and not ctx.sup.pid():
                stop_orphans(ctx, 'they start again under a new supervisord')
            ctx.info = ctx.sup.info()
        if cmd == 'env':
            cmd_env(ctx)
        elif cmd == 'check':
            cmd_check(ctx, args)
        elif cmd == 'services':
            cmd_services(ctx, args)
        elif cmd == 'apps' and args[:1] == ['up']:
            apps.up(ctx, log)
        elif cmd == 'wait-ready':
            apps.wait_ready(ctx, int(args[0]) if args else 240)
        elif cmd == 'status':
            status.show(ctx, '--json' in args)
        elif cmd == 'down':
            cmd_down(ctx)
        elif cmd == 'targets':
            progs = config.app_programs(stack)
            apps.all_ports(stack, progs)  # overlap check only: nothing starts
            services.link_prometheus_config(stack)
            apps.write_targets(stack, progs)
        elif cmd == 'ping':
            return 0 if health.service_ok(stack, args[0]) else 1
        elif cmd == 'ctl':
            os.execv(os.path.join(os.path.dirname(sys.executable), 'supervisorctl'),
                     ['supervisorctl', '-c', ctx.sup.conf, *args])
        else:
            print(__doc__, file=sys.stderr)
            return 64
    except config.ConfigError as err:
        print(f'ERROR: {err}', file=sys.stderr)
        return 2
    except preflight.PreflightError as err:
        text = str(err)
        if 'is taken by' in text:
            text = 'ports are taken:\n  ' + text.replace('\n', '\n  ') + '\n' + preflight.hints(text, offsets.suggest(os.environ))
        print(f'ERROR: {text}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

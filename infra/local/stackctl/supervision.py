"""One supervisord per state dir: its config, its programs, its XML-RPC socket.

supervisord (PyPI `supervisor`) starts every process of the stack, restarts a crashed one
(autorestart; while a process keeps dying during start-up it backs off 1 s, 2 s, 3 s, ... and
gives up after `startretries`, state FATAL), logs each exit and spawn to logs/supervisord.log,
and stops them in reverse priority order. events.py counts the restarts.
"""
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
import xmlrpc.client

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, '..', 'supervisor', 'supervisord.conf')
PROGRAM_TEMPLATE = os.path.join(HERE, '..', 'supervisor', 'program.conf')
EVENTS_TEMPLATE = os.path.join(HERE, '..', 'supervisor', 'events.conf')
RUNNING_STATES = ('RUNNING', 'STARTING')
NOT_HASHED = ('PATH',)  # a different shell's PATH alone does not restart every process


class Supervisor:
    def __init__(self, stack):
        self.stack = stack
        self.dir = os.path.join(stack.state, 'supervisor')
        self.conf = os.path.join(self.dir, 'supervisord.conf')
        self.confd = os.path.join(self.dir, 'conf.d')
        self.envdir = os.path.join(self.dir, 'env')
        self.logs = os.path.join(stack.state, 'logs')
        self.run = os.path.join(stack.state, 'run')
        self.pidfile = os.path.join(self.run, 'supervisord.pid')
        sock = os.path.join(self.run, 'supervisord.sock')
        if len(sock) > 100:  # AF_UNIX paths are limited to ~107 bytes
            sock = f"/tmp/lifecycle-{hashlib.sha1(stack.state.encode()).hexdigest()[:12]}.sock"
        self.sock = sock
        self.server_url = 'unix://' + sock
        for d in (self.confd, self.envdir, self.logs, self.run):
            os.makedirs(d, exist_ok=True)

    # --- supervisord itself
    def pid(self):
        try:
            with open(self.pidfile) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def rpc(self):
        from supervisor.xmlrpc import SupervisorTransport  # the venv's supervisor package
        return xmlrpc.client.ServerProxy('http://localhost', transport=SupervisorTransport(None, None, self.server_url))

    def running(self):
        if not self.pid():
            return False
        try:
            return self.rpc().supervisor.getState()['statename'] == 'RUNNING'
        except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
            return False

    def ensure(self, metrics_port=None):
        """Starts this state dir's supervisord unless it runs. metrics_port: the restart counter's
        HTTP port (0 = none; None = keep what the config says)."""
        with open(TEMPLATE) as f:
            text = f.read().format(**_esc(sock=self.sock, logs=self.logs, run=self.run))
        _write(self.conf, text)
        events_conf = os.path.join(self.confd, '00-events.conf')
        if metrics_port is None and os.path.exists(events_conf):
            metrics_port = _read_events_port(events_conf)
        with open(EVENTS_TEMPLATE) as f:
            events = f.read().format(**_esc(python=sys.executable, events=os.path.join(HERE, 'events.py'),
                                            state=self.stack.state, port=metrics_port or 0, logs=self.logs))
        _write(events_conf, events)
        if self.running():
            self.update()  # applies a changed metrics port (restarts only the listener)
            return False
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        for unit in self.units():  # left by a supervisord that died: the caller writes what it wants to run
            self.remove_unit(unit)
        try:
            os.unlink(os.path.join(self.dir, 'restarts.json'))  # counts are per supervisord lifetime
        except FileNotFoundError:
            pass
        supervisord = os.path.join(os.path.dirname(sys.executable), 'supervisord')
        subprocess.run([supervisord, '-c', self.conf], check=True, cwd=self.stack.root)
        deadline = time.time() + 15
        while not self.running():
            if time.time() > deadline:
                raise RuntimeError(f'supervisord did not start (log: {self.logs}/supervisord.log)')
            time.sleep(0.1)
        return True

    def shutdown(self, timeout=90):
        pid = self.pid()
        if not pid:
            return
        try:
            self.rpc().supervisor.shutdown()
        except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
            os.kill(pid, 15)
        deadline = time.time() + timeout
        while self.pid() == pid and time.time() < deadline:
            time.sleep(0.2)

    # --- programs
    def write_unit(self, unit, programs, env_of):
        """Writes conf.d/<unit>.conf with one [program:x] per program, and each program's environment file."""
        with open(PROGRAM_TEMPLATE) as f:
            template = f.read()
        sections = []
        for prog in programs:
            env = env_of(prog)
            env_file = os.path.join(self.envdir, f'{prog.name}.json')
            _write(env_file, json.dumps(env, indent=1, sort_keys=True))
            hashed = {k: v for k, v in env.items() if k not in NOT_HASHED}
            sha = hashlib.sha256(json.dumps(hashed, sort_keys=True).encode()).hexdigest()[:16]
            sections.append(template.format(**_esc(
                name=prog.name, command=self.command_line(prog), root=self.stack.root,
                sha=sha, priority=prog.priority, stopwait=prog.stopwait, startsecs=prog.startsecs, logs=self.logs)))
        _write(os.path.join(self.confd, f'{unit}.conf'), '\n'.join(sections))

    def command_line(self, prog):
        env_file = os.path.join(self.envdir, f'{prog.name}.json')
        argv = [sys.executable, os.path.join(HERE, 'launch.py'), env_file, '--', *prog.command]
        return ' '.join(shlex.quote(a) for a in argv)

    def unit_command(self, unit):
        """The command= line of a unit's (first) program, None without the unit."""
        try:
            with open(os.path.join(self.confd, f'{unit}.conf')) as f:
                for line in f:
                    if line.startswith('command='):
                        return line[len('command='):].rstrip('\n').replace('%%', '%')
        except FileNotFoundError:
            return None
        return None

    def remove_unit(self, unit):
        try:
            os.unlink(os.path.join(self.confd, f'{unit}.conf'))
        except FileNotFoundError:
            pass

    def units(self):
        return sorted(f[:-5] for f in os.listdir(self.confd) if f.endswith('.conf') and not f.startswith('00-'))

    def update(self):
        """Like `supervisorctl update`: start added programs, restart changed ones, stop removed ones."""
        rpc = self.rpc()
        added, changed, removed = rpc.supervisor.reloadConfig()[0]
        for name in removed + changed:
            try:
                rpc.supervisor.stopProcessGroup(name)
            except xmlrpc.client.Fault:
                pass
            rpc.supervisor.removeProcessGroup(name)
        for name in changed + added:
            rpc.supervisor.addProcessGroup(name)
        return added, changed, removed

    def start(self, names):
        """Starts the named programs that are neither running nor starting (e.g. FATAL after a crash loop)."""
        rpc = self.rpc()
        info = self.info()
        for name in names:
            if name in info and info[name]['statename'] not in RUNNING_STATES:
                rpc.supervisor.startProcess(name, False)

    def info(self):
        if not self.running():
            return {}
        return {p['name']: p for p in self.rpc().supervisor.getAllProcessInfo()}

    def restarts(self):
        try:
            with open(os.path.join(self.dir, 'restarts.json')) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def restart_count(self, name):
        return self.restarts().get(name, {}).get('restarts', 0)

    def log_tail(self, name, lines=25):
        try:
            with open(os.path.join(self.logs, f'{name}.log'), errors='replace') as f:
                return ''.join(f.readlines()[-lines:])
        except OSError:
            return '(no log)'


def _read_events_port(path):
    with open(path) as f:
        for line in f:
            if line.startswith('command='):
                return int(line.split()[-1])
    return 0


def _esc(**values):
    """supervisord expands %(name)s in its config: a literal % is written %%."""
    return {k: str(v).replace('%', '%%') for k, v in values.items()}


def _write(path, text):
    """Atomic write: readers (supervisord, Prometheus file_sd) never see half a file."""
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)

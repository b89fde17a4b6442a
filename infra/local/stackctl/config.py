"""The local stack's plan: which processes run, on which ports, with which environment.

Everything here is computed from environment variables and validated up front, so a
configuration that defeats a guarantee stops `make up` before anything starts, with a
message naming the variables. Standard library only (runs before the venv exists).
"""
import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit


class ConfigError(Exception):
    """Invalid stack configuration; the message names the variables."""


# Ports of the first instance of each kind; LIFECYCLE_PORT_OFFSET moves every one that is not set.
DEFAULT_PORTS = {
    'PORT': 8000,  # API instance i listens on PORT+i-1
    'INFERENCE_METRICS_PORT': 9111,  # inference worker i: +i-1
    'PIPELINE_METRICS_PORT': 9102,  # pipeline worker i: +2(i-1)
    'TRAINING_METRICS_PORT': 9103,  # training worker i: +2(i-1)
    'PIPELINE_TEMPORAL_METRICS_PORT': 9464,  # Temporal SDK exporter of pipeline worker i: +2(i-1)
    'TRAINING_TEMPORAL_METRICS_PORT': 9465,
    'MLFLOW_PORT': 5000,
    'TEMPORAL_PORT': 7233,
    'TEMPORAL_UI_PORT': 8233,
    'PROMETHEUS_PORT': 9090,
    'PAYLOAD_LOGGER_METRICS_PORT': 9181,
    # Restart counters of the supervised processes. Not 9190: that is PROMETHEUS_PORT + 100, so a second stack
    # moved by the README's LIFECYCLE_PORT_OFFSET=100 put its Prometheus on the first one's counters.
    'SUPERVISOR_METRICS_PORT': 9191,
}
DEFAULT_COUNTS = {'API_INSTANCES': 1, 'INFERENCE_WORKERS': 2, 'PIPELINE_WORKERS': 1, 'TRAINING_WORKERS': 1}
MAX_INSTANCES = 32
# Set by the stack per process; a value in the caller's environment would give every instance the same one.
PER_PROCESS = ('METRICS_PORT', 'TEMPORAL_METRICS_PORT', 'WORKER_ID', 'API_INSTANCE_ID')
# Forwarded to every process when set (besides the names listed in .env.example).
FORWARD_PREFIXES = ('LIFECYCLE_', 'MLFLOW_', 'TEMPORAL_', 'REDIS_', 'AWS_', 'DVC_', 'OTEL_', 'NODE_', 'LC_')
FORWARD_NAMES = ('PATH', 'HOME', 'USER', 'LANG', 'TZ', 'TMPDIR', 'LOG_LEVEL', 'GIT_COMMIT',
                 'http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY')


@dataclass
class Port:
    port: int
    what: str  # e.g. "api-2 HTTP"
    variable: str  # the variable that moves it, e.g. "PORT (+1 for instance 2)"


@dataclass
class Program:
    name: str  # supervisord program name, e.g. inference-worker-3
    kind: str  # api | inference-worker | payload-logger | pipeline-worker | training-worker | redis | temporal | mlflow | prometheus
    command: list
    env: dict = field(default_factory=dict)
    ports: list = field(default_factory=list)  # [Port]
    defaults: dict = field(default_factory=dict)  # used when the caller's environment does not set them
    health: str = ''  # URL checked for liveness
    ready: str = ''  # URL checked for readiness ('' = same as health)
    priority: int = 500
    stopwait: int = 30
    startsecs: int = 3  # must stay up this long to count as started (dying sooner backs off)


@dataclass
class Stack:
    root: str
    state: str
    venv: str
    counts: dict
    ports: dict
    redis_url: str
    temporal_address: str
    temporal_explicit: bool
    mlflow_uri: str
    mlflow_explicit: bool
    mlflow_backend: str
    mlflow_database_url: str
    warnings: list
    # Keys of this stack in Redis. Stacks on one machine share its Redis: a second stack (moved with
    # LIFECYCLE_PORT_OFFSET) gets its own prefix, or its workers would serve the first one's queues.
    redis_prefix: str = 'lc:'
    # REDIS_CLUSTER_NODES (host:port,...): a Redis Cluster the stack is given and uses instead of REDIS_URL's
    # Redis (whose credentials and scheme it still lends). Never started or stopped by the stack.
    redis_cluster_nodes: str = ''


def _int(env, name, default, lo, hi, errors, what):
    raw = env.get(name, '')
    if raw == '':
        return default
    if not re.fullmatch(r'-?\d+', raw.strip()):
        errors.append(f'{name}={raw!r} is not a whole number ({what})')
        return default
    value = int(raw)
    if not lo <= value <= hi:
        errors.append(f'{name}={value}: must be between {lo} and {hi} ({what})')
    return value


def load(env=None, root=None):
    """Reads and validates the stack settings; raises ConfigError naming every bad variable."""
    env = dict(os.environ if env is None else env)
    root = root or os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
    state = os.path.abspath(env.get('LIFECYCLE_STATE_DIR') or os.path.join(root, '.lifecycle'))
    venv = os.path.abspath(os.path.join(root, env.get('LIFECYCLE_VENV') or '.venv'))
    errors, warnings = [], []

    counts = {}
    for name, default in DEFAULT_COUNTS.items():
        counts[name] = _int(env, name, default, 1, MAX_INSTANCES, errors,
                            'the stack needs at least one of each process kind: with none, `make up` never serves or trains')
    offset = _int(env, 'LIFECYCLE_PORT_OFFSET', 0, 0, 50000, errors, 'added to every default port')
    ports = {}
    for name, default in DEFAULT_PORTS.items():
        ports[name] = _int(env, name, default + offset, 1, 65535, errors, 'a TCP port')

    redis_url = env.get('REDIS_URL') or 'redis://127.0.0.1:6379'
    if urlsplit(redis_url).scheme not in ('redis', 'rediss') or not urlsplit(redis_url).hostname:
        errors.append(f'REDIS_URL={redis_url!r} is not a redis:// URL')

    redis_cluster_nodes = env.get('REDIS_CLUSTER_NODES') or ''
    if redis_cluster_nodes and not re.fullmatch(r'[^\s,:]+:\d{1,5}(,[^\s,:]+:\d{1,5})*', redis_cluster_nodes):
        errors.append(f'REDIS_CLUSTER_NODES={redis_cluster_nodes!r} is not host:port[,host:port...]')

    temporal_explicit = bool(env.get('TEMPORAL_ADDRESS'))
    temporal_address = env.get('TEMPORAL_ADDRESS') or f"127.0.0.1:{ports['TEMPORAL_PORT']}"
    m = re.fullmatch(r'\[?([^\]]+?)\]?:(\d+)', temporal_address)
    if not m:
        errors.append(f'TEMPORAL_ADDRESS={temporal_address!r} is not host:port')
    elif temporal_explicit and env.get('TEMPORAL_PORT') and int(m.group(2)) != ports['TEMPORAL_PORT']:
        errors.append(f"TEMPORAL_ADDRESS={temporal_address} and TEMPORAL_PORT={ports['TEMPORAL_PORT']} disagree: set one of them")
    elif temporal_explicit and _is_loopback(m.group(1)):
        ports['TEMPORAL_PORT'] = int(m.group(2))

    mlflow_explicit = bool(env.get('MLFLOW_TRACKING_URI'))
    mlflow_uri = (env.get('MLFLOW_TRACKING_URI') or f"http://127.0.0.1:{ports['MLFLOW_PORT']}").rstrip('/')
    u = urlsplit(mlflow_uri)
    if u.scheme not in ('http', 'https') or not u.hostname:
        errors.append(f'MLFLOW_TRACKING_URI={mlflow_uri!r} is not an http(s):// URL')
    elif mlflow_explicit and env.get('MLFLOW_PORT') and (u.port or 80) != ports['MLFLOW_PORT']:
        errors.append(f"MLFLOW_TRACKING_URI={mlflow_uri} and MLFLOW_PORT={ports['MLFLOW_PORT']} disagree: set one of them")
    elif mlflow_explicit and _is_loopback(u.hostname) and u.port:
        ports['MLFLOW_PORT'] = u.port

    backend = env.get('MLFLOW_BACKEND') or 'sqlite'
    if backend not in ('sqlite', 'postgres'):
        errors.append(f'MLFLOW_BACKEND={backend!r}: must be sqlite or postgres')
    database_url = env.get('MLFLOW_DATABASE_URL') or 'postgresql://postgres@127.0.0.1:5432/lifecycle_mlflow'
    if backend == 'postgres' and urlsplit(database_url).scheme not in ('postgresql', 'postgres'):
        errors.append(f'MLFLOW_DATABASE_URL={database_url!r} is not a postgresql:// URL')

    for name in PER_PROCESS:
        if env.get(name):
            warnings.append(f'ignoring {name}={env[name]}: the stack sets it for each process '
                            '(move ports with PORT, INFERENCE_METRICS_PORT, PIPELINE_/TRAINING_[TEMPORAL_]METRICS_PORT)')
    if errors:
        raise ConfigError('invalid stack configuration:\n  ' + '\n  '.join(errors))
    redis_prefix = env.get('REDIS_PREFIX') or ('lc:' if offset == 0 else f'lc{offset}:')
    return Stack(root, state, venv, counts, ports, redis_url, temporal_address, temporal_explicit,
                 mlflow_uri, mlflow_explicit, backend, database_url, warnings, redis_prefix, redis_cluster_nodes)


def _is_loopback(host):
    return host in ('127.0.0.1', 'localhost', '::1') or host.startswith('127.')


def redis_port(stack):
    return urlsplit(stack.redis_url).port or 6379


def redis_is_local(stack):
    """Whether the stack may start (and stop) Redis itself: a single local Redis, never a cluster it is given."""
    return not stack.redis_cluster_nodes and _is_loopback(urlsplit(stack.redis_url).hostname or '')


def redis_urls(stack):
    """The Redis URLs to probe: REDIS_URL, or each cluster seed with REDIS_URL's scheme and credentials."""
    if not stack.redis_cluster_nodes:
        return [stack.redis_url]
    u = urlsplit(stack.redis_url)
    creds = u.netloc.rsplit('@', 1)[0] + '@' if '@' in u.netloc else ''
    return [f'{u.scheme}://{creds}{node}' for node in stack.redis_cluster_nodes.split(',')]


def temporal_is_local(stack):
    return _is_loopback(stack.temporal_address.rsplit(':', 1)[0].strip('[]'))


def mlflow_is_local(stack):
    return _is_loopback(urlsplit(stack.mlflow_uri).hostname or '')


def feedback_tokens_file(s):
    return f'{s.state}/feedback-tokens'


def app_programs(s):
    """The application processes, in start order (stop order is the reverse)."""
    p, n, out = s.ports, s.counts, []
    node = 'node'
    dirs = {'MODEL_CACHE_DIR': f'{s.state}/models', 'DATA_CACHE_DIR': f'{s.state}/data',
            'TRAINING_WORK_DIR': f'{s.state}/training'}
    for kind, count_var, port_var, sdk_var, entry in (
            ('pipeline-worker', 'PIPELINE_WORKERS', 'PIPELINE_METRICS_PORT', 'PIPELINE_TEMPORAL_METRICS_PORT', 'pipeline-worker'),
            ('training-worker', 'TRAINING_WORKERS', 'TRAINING_METRICS_PORT', 'TRAINING_TEMPORAL_METRICS_PORT', 'training-worker')):
        for i in range(1, n[count_var] + 1):
            step = 2 * (i - 1)
            mport, sport = p[port_var] + step, p[sdk_var] + step
            suffix = f' (+{step} for worker {i})' if step else ''
            out.append(Program(
                name=f'{kind}-{i}', kind=kind, command=[node, f'dist/workers/{entry}.js'], priority=300,
                env={'METRICS_PORT': str(mport), 'TEMPORAL_METRICS_PORT': str(sport)},
                ports=[Port(mport, f'{kind}-{i} metrics', port_var + suffix),
                       Port(sport, f'{kind}-{i} Temporal SDK metrics', sdk_var + suffix)],
                health=f'http://127.0.0.1:{mport}/healthz', ready=f'http://127.0.0.1:{mport}/readyz'))
    for i in range(1, n['INFERENCE_WORKERS'] + 1):
        mport = p['INFERENCE_METRICS_PORT'] + i - 1
        out.append(Program(
            name=f'inference-worker-{i}', kind='inference-worker', command=[node, 'dist/workers/inference-worker.js'],
            priority=400, env={'WORKER_ID': f'inference-worker-{i}', 'METRICS_PORT': str(mport)},
            ports=[Port(mport, f'inference-worker-{i} metrics', 'INFERENCE_METRICS_PORT' + (f' (+{i - 1} for worker {i})' if i > 1 else ''))],
            health=f'http://127.0.0.1:{mport}/healthz', ready=f'http://127.0.0.1:{mport}/readyz'))
    # One payload logger drains every model's payload-log and feedback streams into Parquet under the state dir.
    lport = p['PAYLOAD_LOGGER_METRICS_PORT']
    out.append(Program(
        name='payload-logger', kind='payload-logger', command=[node, 'dist/workers/payload-logger.js'], priority=400,
        env={'METRICS_PORT': str(lport), 'PAYLOAD_LOGGER_ID': 'payload-logger'},
        defaults={'PAYLOAD_LOG_DIR': f'{s.state}/payload-log'},
        ports=[Port(lport, 'payload-logger metrics', 'PAYLOAD_LOGGER_METRICS_PORT')],
        health=f'http://127.0.0.1:{lport}/healthz', ready=f'http://127.0.0.1:{lport}/readyz'))
    for i in range(1, n['API_INSTANCES'] + 1):
        port = p['PORT'] + i - 1
        out.append(Program(
            name=f'api-{i}', kind='api', command=[node, 'dist/api/server.js'], priority=500,
            # The port makes the id unique among the stacks of this machine that share one Redis.
            env={'PORT': str(port), 'API_INSTANCE_ID': f'api-{i}-{port}'},
            ports=[Port(port, f'api-{i} HTTP', 'PORT' + (f' (+{i - 1} for instance {i})' if i > 1 else ''))],
            health=f'http://127.0.0.1:{port}/healthz', ready=f'http://127.0.0.1:{port}/readyz'))
    for prog in out:
        prog.defaults.update(dirs)
        if prog.kind == 'inference-worker':
            prog.defaults['SERVED_MODELS'] = '*'  # every registered model that has a champion
        if prog.kind == 'pipeline-worker':
            # The progressive-rollout analysis queries this stack's own Prometheus (an offset stack has its own port).
            prog.defaults['PROMETHEUS_URL'] = f"http://127.0.0.1:{p['PROMETHEUS_PORT']}"
        if prog.kind == 'training-worker':
            prog.defaults['PAYLOAD_LOG_DIR'] = f'{s.state}/payload-log'  # the drift checks read the logger's Parquet files
        if prog.kind == 'api':
            prog.defaults['FEEDBACK_TOKENS_FILE'] = feedback_tokens_file(s)  # written by `apps up` (feedback_token.py)
    return out


# The custom search attributes the lifecycle workflows set (lib/lifecycle/search-attributes.ts, which a
# unit test holds this list to). The dev server registers them at every start, also on an existing
# database; a workflow that upserts an unregistered one would fail its workflow tasks.
LIFECYCLE_SEARCH_ATTRIBUTES = (
    'LifecycleModel=Keyword', 'LifecycleDatasetPath=Keyword', 'LifecycleDatasetDigest=Keyword',
    'LifecycleVersion=Int', 'LifecycleOutcome=Keyword', 'LifecycleSummary=Text',
)


def service_programs(s, names):
    """Backing services this stack would start itself (those not reused as external)."""
    out = []
    if 'redis' in names:
        rp = redis_port(s)
        out.append(Program(
            name='redis', kind='redis', priority=100, stopwait=10,
            command=['redis-server', '--bind', '127.0.0.1', '--port', str(rp), '--save', '', '--appendonly', 'no'],
            ports=[Port(rp, 'Redis', 'REDIS_URL')], health='redis'))
    if 'temporal' in names:
        tp, ui = int(s.temporal_address.rsplit(':', 1)[1]), s.ports['TEMPORAL_UI_PORT']
        out.append(Program(
            name='temporal', kind='temporal', priority=100, stopwait=20, startsecs=5,
            command=[f'{s.venv}/bin/temporal', 'server', 'start-dev', '--ip', '127.0.0.1', '--port', str(tp),
                     '--ui-port', str(ui), '--db-filename', f'{s.state}/temporal/temporal.db', '--log-level', 'warn',
                     *[arg for spec in LIFECYCLE_SEARCH_ATTRIBUTES for arg in ('--search-attribute', spec)]],
            ports=[Port(tp, 'Temporal gRPC', 'TEMPORAL_PORT (or TEMPORAL_ADDRESS)'), Port(ui, 'Temporal UI', 'TEMPORAL_UI_PORT')],
            health='temporal'))
    if 'mlflow' in names:
        mp = s.ports['MLFLOW_PORT']
        # SQLAlchemy 2.1 maps postgresql:// to psycopg 3; the venv pins psycopg2 (psycopg2-binary).
        store = (re.sub(r'^postgres(ql)?://', 'postgresql+psycopg2://', s.mlflow_database_url) if s.mlflow_backend == 'postgres'
                 else f'sqlite:///{s.state}/mlflow/mlflow.db')
        # --serve-artifacts: clients upload/download through the server (mlflow-artifacts:/ URIs).
        out.append(Program(
            name='mlflow', kind='mlflow', priority=100, stopwait=10, startsecs=10,
            command=[f'{s.venv}/bin/mlflow', 'server', '--backend-store-uri', store, '--serve-artifacts',
                     '--artifacts-destination', f'{s.state}/mlflow/artifacts', '--host', '127.0.0.1',
                     '--port', str(mp), '--workers', '2'],
            ports=[Port(mp, 'MLflow', 'MLFLOW_PORT (or MLFLOW_TRACKING_URI)')],
            # No job runner (a pool of huey consumer processes for MLflow's GenAI jobs, which nothing here
            # uses): on a 2-core machine its start-up competes with the first training.
            env={'MLFLOW_SERVER_ENABLE_JOB_EXECUTION': 'false'},
            health=f'http://127.0.0.1:{mp}/health'))
    if 'prometheus' in names:
        pp = s.ports['PROMETHEUS_PORT']
        out.append(Program(
            name='prometheus', kind='prometheus', priority=100, stopwait=20,
            command=['prometheus', f'--config.file={s.state}/prometheus/prometheus.yml',
                     f'--storage.tsdb.path={s.state}/prometheus/data', f'--web.listen-address=127.0.0.1:{pp}'],
            ports=[Port(pp, 'Prometheus', 'PROMETHEUS_PORT')], health=f'http://127.0.0.1:{pp}/-/ready'))
    return out


def check_overlaps(programs, extra=()):
    """Every port belongs to exactly one process: two instances on one port would fight for it."""
    seen, errors = {}, []
    for port in [pt for prog in programs for pt in prog.ports] + list(extra):
        if port.port in seen:
            other = seen[port.port]
            errors.append(f'port {port.port} is planned twice: {other.what} ({other.variable}) and {port.what} ({port.variable})')
        else:
            seen[port.port] = port
    if errors:
        raise ConfigError('overlapping ports:\n  ' + '\n  '.join(errors) + '\n  move one of them with the variables named.')


def forwarded_env(s, env=None):
    """The caller's settings every process gets: names in .env.example and known prefixes."""
    env = os.environ if env is None else env
    names = set(FORWARD_NAMES)
    try:
        with open(os.path.join(s.root, '.env.example')) as f:
            names.update(re.findall(r'^#?\s*([A-Z][A-Z0-9_]+)=', f.read(), re.M))
    except OSError:
        pass
    # Knobs of the stack itself (counts, ports, MLflow backend) are not the processes' business: changing
    # INFERENCE_WORKERS must not restart the API.
    stack_only = set(DEFAULT_COUNTS) | set(DEFAULT_PORTS) | {
        'LIFECYCLE_PORT_OFFSET', 'MLFLOW_BACKEND', 'MLFLOW_DATABASE_URL', 'MLFLOW_DATABASE_RESET', 'BOOTSTRAP_INPUT',
        'TEST_PROFILE', 'TEST_POSTGRES', 'POSTGRES_MLFLOW_PORT'}
    out = {k: v for k, v in env.items()
           if (k in names or k.startswith(FORWARD_PREFIXES)) and k not in PER_PROCESS and k not in stack_only}
    out.update({'REDIS_URL': s.redis_url, 'REDIS_PREFIX': s.redis_prefix, 'TEMPORAL_ADDRESS': s.temporal_address,
                'MLFLOW_TRACKING_URI': s.mlflow_uri, 'LIFECYCLE_STATE_DIR': s.state})
    if s.redis_cluster_nodes:
        out['REDIS_CLUSTER_NODES'] = s.redis_cluster_nodes
    out.pop('PORT', None)
    return out

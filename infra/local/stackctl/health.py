"""Health checks: exit status only, short timeouts. Standard library only."""
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from urllib.parse import unquote, urlsplit
from config import redis_urls


# Our endpoints are local: never through an http_proxy from the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(url, timeout=2.0):
    """(status, body) of a GET; status 0 when nothing answers."""
    try:
        with _opener.open(url, timeout=timeout) as res:
            return res.status, res.read(4096).decode(errors='replace')
    except urllib.error.HTTPError as err:
        return err.code, err.read(4096).decode(errors='replace')
    except (OSError, ValueError):
        return 0, ''


def http_ok(url):
    return http(url)[0] == 200


def redis_ok(url, timeout=1.0):
    """PING (after AUTH when the URL carries credentials) answers PONG."""
    u = urlsplit(url)
    try:
        with socket.create_connection((u.hostname or '127.0.0.1', u.port or 6379), timeout=timeout) as raw:
            sock = ssl.create_default_context().wrap_socket(raw, server_hostname=u.hostname) if u.scheme == 'rediss' else raw
            cmds = []
            if u.password:
                auth = [unquote(u.username)] if u.username else []
                cmds.append(['AUTH', *auth, unquote(u.password)])
            cmds.append(['PING'])
            for cmd in cmds:
                sock.sendall(f'*{len(cmd)}\r\n'.encode() + b''.join(f'${len(a)}\r\n{a}\r\n'.encode() for a in cmd))
                reply = sock.recv(256)
                if reply.startswith(b'-'):
                    return False
            return reply.startswith(b'+PONG')
    except OSError:
        return False


def temporal_ok(venv, address):
    try:
        out = subprocess.run([f'{venv}/bin/temporal', 'operator', 'cluster', 'health', '--address', address],
                             capture_output=True, text=True, timeout=5)
        return 'SERVING' in out.stdout
    except (OSError, subprocess.TimeoutExpired):
        return False


def service_ok(stack, kind, url=''):
    if kind == 'redis':
        # A cluster answers when any seed does: ioredis discovers the rest from it.
        return any(redis_ok(url) for url in redis_urls(stack))
    if kind == 'temporal':
        return temporal_ok(stack.venv, stack.temporal_address)
    if kind == 'postgres':
        return postgres_ok(stack.mlflow_database_url)
    if kind == 'mlflow':
        return http_ok(stack.mlflow_uri + '/health')
    return http_ok(url)


def postgres_ok(url):
    try:
        import psycopg2  # the venv's psycopg2-binary
        psycopg2.connect(url.rsplit('/', 1)[0] + '/postgres', connect_timeout=3).close()
        return True
    except Exception:  # noqa: BLE001 (driver missing, refused, auth: all mean "not usable")
        return False

"""Who holds a TCP port, and is it ours? Standard library only (reads /proc, like ss/lsof).

A process is this stack's when supervisord of this state dir started it (supervisord puts
SUPERVISOR_SERVER_URL=unix://<our socket> in the environment of each child, and children's
children inherit it), or when a pidfile of the pre-supervisord scripts names it.
"""
import ipaddress
import os
import re
import socket

_LOOPBACK_OR_ANY = ('0.0.0.0', '::')


def _listening_inodes(port):
    inodes = set()
    for path, family in (('/proc/net/tcp', 4), ('/proc/net/tcp6', 6)):
        try:
            with open(path) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local, st, inode = cols[1], cols[3], cols[9]
            addr_hex, port_hex = local.split(':')
            if st != '0A' or int(port_hex, 16) != port:
                continue
            if _conflicts(_addr(addr_hex, family)):
                inodes.add(inode)
    return inodes


def _addr(hex_addr, family):
    raw = bytes.fromhex(hex_addr)
    if family == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
    return str(ipaddress.IPv6Address(b''.join(words)))


def _conflicts(addr):
    """A listener on this address answers (or blocks) 127.0.0.1:<port>."""
    ip = ipaddress.ip_address(addr)
    if addr in _LOOPBACK_OR_ANY or ip.is_loopback:
        return True
    mapped = getattr(ip, 'ipv4_mapped', None)
    return bool(mapped and (mapped.is_loopback or str(mapped) == '0.0.0.0'))


def _pids_of_inodes(inodes):
    found = set()
    if not inodes:
        return found
    targets = {f'socket:[{i}]' for i in inodes}
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir(f'/proc/{pid}/fd'):
                if os.readlink(f'/proc/{pid}/fd/{fd}') in targets:
                    found.add(int(pid))
                    break
        except OSError:
            continue
    return found


def port_free(port):
    """True when 127.0.0.1:port can be bound right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(('127.0.0.1', port))
            return True
        except OSError:
            return False


def holders(port):
    """Pids listening on the port (loopback or any address); empty when none is visible."""
    return sorted(_pids_of_inodes(_listening_inodes(port)))


def environ(pid):
    try:
        with open(f'/proc/{pid}/environ', 'rb') as f:
            pairs = f.read().split(b'\0')
    except OSError:
        return {}
    out = {}
    for pair in pairs:
        k, sep, v = pair.partition(b'=')
        if sep:
            out[k.decode(errors='replace')] = v.decode(errors='replace')
    return out


def cmdline(pid):
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            args = [a.decode(errors='replace') for a in f.read().split(b'\0') if a]
    except OSError:
        return '?'
    text = ' '.join(args)
    return text if len(text) <= 160 else text[:157] + '...'


def cwd(pid):
    try:
        return os.readlink(f'/proc/{pid}/cwd')
    except OSError:
        return '?'


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def ancestors(pid):
    """pid, its parent, grandparent, ... up to init."""
    chain = []
    while pid and pid not in chain and pid != 1:
        chain.append(pid)
        try:
            with open(f'/proc/{pid}/stat') as f:
                pid = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return chain


def owner(pid, server_url, known_pids):
    """The program name when the pid is this stack's, else None: its environment carries our supervisord's
    URL, or it or an ancestor is a pid this stack knows (supervisord's programs, legacy pidfiles)."""
    env = environ(pid)
    if server_url and env.get('SUPERVISOR_SERVER_URL') == server_url:
        return env.get('SUPERVISOR_PROCESS_NAME') or '?'
    for ancestor in ancestors(pid):
        if ancestor in known_pids:
            return known_pids[ancestor]
    return None


STACK_RE = re.compile(r"of the Lifecycle stack with state dir (\S+) in checkout (\S+)\)")


def describe(pid):
    """One line about a process that is not ours: pid, command, working dir, and whose stack it is."""
    env = environ(pid)
    text = f'pid {pid} `{cmdline(pid)}` (cwd {cwd(pid)}'
    state = env.get('LIFECYCLE_STATE_DIR')
    prog = env.get('SUPERVISOR_PROCESS_NAME')
    if state and prog:
        text += f"; program '{prog}' of the Lifecycle stack with state dir {state} in checkout {cwd(pid)}"
    return text + ')'


def processes_of(server_url):
    """Every live process that carries this stack's supervisord URL (also orphans of a dead supervisord)."""
    found = []
    for pid in os.listdir('/proc'):
        if pid.isdigit() and int(pid) != os.getpid():
            env = environ(int(pid))
            if env.get('SUPERVISOR_SERVER_URL') == server_url:
                found.append((int(pid), env.get('SUPERVISOR_PROCESS_NAME', '?')))
    return found

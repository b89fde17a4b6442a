"""Program launcher used by supervisord: launch.py ENV_JSON -- COMMAND [ARGS...]

Replaces the environment with the one the stack computed for this process (the JSON file
written by the latest `make up`), keeps the SUPERVISOR_* variables supervisord sets (they mark
the process as this stack's), and execs COMMAND, so the pid supervisord watches is COMMAND's.
A file rather than supervisord's `environment=` line: values may hold any character.
"""
import json
import os
import sys


def main():
    env_file, sep, command = sys.argv[1], sys.argv[2], sys.argv[3:]
    if sep != '--' or not command:
        sys.exit('usage: launch.py ENV_JSON -- COMMAND [ARGS...]')
    with open(env_file) as f:
        env = json.load(f)
    env.update({k: v for k, v in os.environ.items() if k.startswith('SUPERVISOR_')})
    os.execvpe(command[0], command, env)


if __name__ == '__main__':
    main()

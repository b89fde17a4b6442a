"""The local stack's feedback credential: a labeller token made once per state dir.

`<state>/feedback-token` holds the bare token (for curl: `Authorization: Bearer $(cat .lifecycle/feedback-token)`);
`<state>/feedback-tokens` holds it as `local:labeller:<token>`, the API's FEEDBACK_TOKENS_FILE. Both are
owner-only and live in the state dir, which git ignores. Existing files are kept, so restarts keep the token.
"""
import os
import secrets

from config import feedback_tokens_file


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write(text)


def ensure_feedback_token(s):
    token_path = f'{s.state}/feedback-token'
    os.makedirs(s.state, exist_ok=True)
    if not os.path.exists(token_path):
        _write_private(token_path, secrets.token_urlsafe(32) + '\n')
    with open(token_path) as f:
        token = f.read().strip()
    _write_private(feedback_tokens_file(s), f'local:labeller:{token}\n')
    return token

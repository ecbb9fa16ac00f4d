"""Credentials kept out of the logs: the values of secret-looking query parameters are replaced by `[redacted]`.

Browsers cannot set headers on a WebSocket, so tokens often travel in the query string, and servers log the
handshake's path with it (uvicorn's `"WebSocket /ws?token=..." [accepted]` line, on the `uvicorn.error` logger).
A WsAPI app installs `RedactSecrets` on the `wsapi`, `uvicorn.error` and `uvicorn.access` loggers of its process
when it is created. Redacted: parameters named like a credential (`token`, `access_token`, `api_key`, `password`,
`secret`, `session`, `signature`, `jwt`, `auth`, `key`, `code`, ...) and those an `APIKeyQuery` reads.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
LOGGERS = ("wsapi", "wsapi.channels", "uvicorn.error", "uvicorn.access")
_NAMES = {"auth", "code", "jwt", "key", "password", "passwd", "secret", "session", "sig", "signature", "ticket"}
_PATTERN_TEMPLATE = r"(?i)([?&](?:[\w.-]*(?:token|api[_-]?key|secret|password)[\w.-]*|{names})=)[^&\s\"'#]*"

__all__ = ["REDACTED", "RedactSecrets", "install_redaction", "redact", "redact_query_param"]

_pattern = re.compile("")


def _compile() -> None:
    global _pattern
    names = "|".join(re.escape(name) for name in sorted(_NAMES))
    _pattern = re.compile(_PATTERN_TEMPLATE.replace("{names}", names))


_compile()


def redact_query_param(name: str) -> None:
    """Redact the values of the query parameter `name` too (an `APIKeyQuery` registers its own)."""
    if name.lower() not in _NAMES:
        _NAMES.add(name.lower())
        _compile()


def redact(text: str) -> str:
    """`text` with the values of secret-looking query parameters replaced by `[redacted]`."""
    return _pattern.sub(r"\1" + REDACTED, text) if "=" in text else text


class RedactSecrets(logging.Filter):
    """A logging filter that redacts query-string credentials in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


_FILTER = RedactSecrets()


def install_redaction() -> None:
    """Add the filter to wsapi's and uvicorn's loggers, once per process."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)

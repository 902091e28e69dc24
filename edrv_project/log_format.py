"""How a log line is written: its event name with the context given in `extra`, which must reach the output.

Production writes one JSON object a line (python-json-logger); `make run` (DEBUG) writes text with each
extra appended as `key=value`. Both mask an extra whose name says it holds a secret (a password, a token,
a signing secret, an API key, a signature), whatever its value: callers must not log those, and if one
does, the value still stays out of the logs.
"""

import logging
import re
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

MASK = "[masked]"
SECRET_NAME = re.compile(
    r"secret|passw|token|api_?key|authorization|signature|cookie|credential|private_?key", re.IGNORECASE
)
# Attributes of every LogRecord, and those formatting adds: not context.
_NOT_EXTRA = frozenset([*RESERVED_ATTRS, "taskName"])


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The `extra` a log call gave, secrets masked."""
    return {
        key: MASK if SECRET_NAME.search(key) else value
        for key, value in record.__dict__.items()
        if key not in _NOT_EXTRA and not key.startswith("_")
    }


class JsonFormatter(_JsonFormatter):
    """One JSON object a line: time, level, logger, message, then every extra."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {key: MASK if SECRET_NAME.search(str(key)) else value for key, value in log_data.items()}


class PlainFormatter(logging.Formatter):
    """`fmt`, then each extra as key=value (values as Python shows them, so strings are quoted)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        context = " ".join(f"{key}={value!r}" for key, value in extras(record).items())
        return f"{line} {context}" if context else line

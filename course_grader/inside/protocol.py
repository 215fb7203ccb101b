"""The pipe protocol between a grading worker (``course_grader.sandbox.ForkServerClient``) and the
fork server in its sandbox (``course_grader.inside.forkserver``): one JSON object per line, each
way, over the fork server's stdin and stdout.  Writer and reader live here, used by both sides.

Requests and their answers:

* ``{"op": "spawn", "connection_file", "cwd", "log", "limits"}`` → ``{"pid"}``
* ``{"op": "poll", "pid"}`` → ``{"status"}`` (None while the kernel runs)
* ``{"op": "kill", "pid"}`` → ``{"ok": true}``
* ``{"op": "sweep"}`` → ``{"clean", "left"}``
* ``{"op": "ping"}`` → ``{"ok": true}``
* anything else, or a request that fails → ``{"error"}``

The fork server's first line, unasked, is ``{"ready": true, "pid", "uid", "failed"}``.

Only the standard library, imported lazily where it costs: this module is imported by the fork
server before anything else.
"""

from __future__ import annotations

import json
import os
import select
import time

SANDBOX_UID = 65534   # nobody: the kernels' user when grading as root (both sides chown and setuid to it)


def encode(message: dict) -> bytes:
    """One message as the protocol's line."""
    return (json.dumps(message) + "\n").encode()


def decode(line: bytes) -> dict:
    """One line as a message; ValueError when it is not a JSON object."""
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ValueError(f"not a JSON object: {line[:80]!r}")
    return message


def send(fd: int, message: dict) -> None:
    """Write one message to a pipe's file descriptor, all of it (OSError when the pipe is gone)."""
    data = memoryview(encode(message))
    while data:
        data = data[os.write(fd, data):]


class LineReader:
    """Reads the protocol's lines from a pipe's file descriptor, keeping what follows a line."""

    def __init__(self, fd: int):
        self.fd, self.buffer = fd, b""

    def line(self, timeout: float | None = None) -> bytes | None:
        """The next line (without its newline), or None at end of file or after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self.buffer:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                    return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def message(self, timeout: float | None = None) -> dict | None:
        """The next message, or None at end of file, after ``timeout`` seconds, or when it is not JSON."""
        line = self.line(timeout)
        if line is None:
            return None
        try:
            return decode(line)
        except ValueError:
            return None

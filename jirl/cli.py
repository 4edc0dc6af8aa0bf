"""Shared command-line plumbing for ``experiments/*.py``: typed configs parsed by tyro, user mistakes reported
as one line on stderr with exit status 2 (no traceback), a non-finite loss as one line with exit status 1,
Ctrl-C (SIGINT) and ``kill`` (SIGTERM, e.g. a cluster's pre-emption) as one line with exit status 130 / 143,
and the summary dict printed as the final JSON line on stdout.

Every file jirl writes is written atomically, so a run stopped by either signal, or killed outright, keeps its
last checkpoint whole and ``--resume`` continues from it. Note that a job started in the background by a
non-interactive shell (``nohup python ... &`` in a script) inherits an *ignored* SIGINT from the shell, so
``kill -INT`` does nothing there; stop it with ``kill`` (SIGTERM)."""

from __future__ import annotations

import inspect
import os
import re
import signal
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def fail(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def join_help_lines(text: str) -> str:
    """A field docstring as ``--help`` should show it: the source indentation removed and wrapped lines joined
    into one paragraph (blank lines and lines starting with ``- `` / ``* `` stay line breaks)."""
    text = inspect.cleandoc(text)
    return re.sub(r"(?<=\S)\n(?![ \t]*(?:[-*] |\n))[ \t]*", " ", text)


def _tidy_tyro_help() -> None:
    """tyro (1.0.x) joins a field docstring's lines only where a line starts with a letter, and dedents after
    joining, so every continuation line of a multi-line docstring (indented in the source) starts a new row of
    ``--help``. Feed it docstrings already joined by :func:`join_help_lines`. A no-op if tyro's internals move."""
    try:
        from tyro import _docstrings
    except ImportError:  # pragma: no cover - a tyro without that module: leave its help as it is
        return
    parse = getattr(_docstrings, "parse_docstring_from_object", None)
    if parse is None or getattr(parse, "_jirl_joined", False):
        return

    def joined(obj: object) -> dict[str, str]:
        return {name: join_help_lines(doc) for name, doc in parse(obj).items()}

    joined._jirl_joined = True  # type: ignore[attr-defined]
    _docstrings.parse_docstring_from_object = joined


class Terminated(BaseException):
    """Raised in the main thread by SIGTERM while :func:`run` executes a script (see :func:`_on_sigterm`)."""


def _on_sigterm(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM during the clean-up kills at once
    raise Terminated


def run(config_type: type[T], main: Callable[[T], dict], description: str, args: list[str] | None = None) -> dict:
    """Parse ``config_type`` from the command line, call ``main(config)``, print its summary as JSON."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tyro

    from jirl.loops.common import NonFiniteLossError, UserError, print_final_json

    _tidy_tyro_help()
    config = tyro.cli(config_type, description=description, args=args)
    # SIGTERM stops the run like Ctrl-C (a clean line, context managers closed, env workers shut down) instead of
    # killing the process mid-step; only where nobody else chose a handler, and only from the main thread.
    catch_term = threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    if catch_term:
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        summary = main(config)
    except UserError as e:
        fail(str(e), 2)
    except NonFiniteLossError as e:
        fail(str(e), 1)
    except KeyboardInterrupt:
        fail("interrupted; the last checkpoint (if any) is kept, rerun with --resume to continue", 130)
    except Terminated:
        fail("terminated (SIGTERM); the last checkpoint (if any) is kept, rerun with --resume to continue", 143)
    finally:
        if catch_term:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    print_final_json(summary)
    return summary

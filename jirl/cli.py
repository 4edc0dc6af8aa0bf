"""Shared command-line plumbing for ``experiments/*.py``: typed configs parsed by tyro, user mistakes reported
as one line on stderr with exit status 2 (no traceback), a non-finite loss as one line with exit status 1,
and the summary dict printed as the final JSON line on stdout."""

from __future__ import annotations

import inspect
import os
import re
import sys
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


def run(config_type: type[T], main: Callable[[T], dict], description: str, args: list[str] | None = None) -> dict:
    """Parse ``config_type`` from the command line, call ``main(config)``, print its summary as JSON."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tyro

    from jirl.loops.common import NonFiniteLossError, UserError, print_final_json

    _tidy_tyro_help()
    config = tyro.cli(config_type, description=description, args=args)
    try:
        summary = main(config)
    except UserError as e:
        fail(str(e), 2)
    except NonFiniteLossError as e:
        fail(str(e), 1)
    except KeyboardInterrupt:
        fail("interrupted; the last checkpoint (if any) is kept, rerun with --resume to continue", 130)
    print_final_json(summary)
    return summary

"""Shared command-line plumbing for ``experiments/*.py``: typed configs parsed by tyro, user mistakes reported
as one line on stderr with exit status 2 (no traceback), a non-finite loss as one line with exit status 1,
and the summary dict printed as the final JSON line on stdout."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def fail(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def run(config_type: type[T], main: Callable[[T], dict], description: str, args: list[str] | None = None) -> dict:
    """Parse ``config_type`` from the command line, call ``main(config)``, print its summary as JSON."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tyro

    from jirl.loops.common import NonFiniteLossError, UserError, print_final_json

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

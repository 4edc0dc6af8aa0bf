"""Small file helpers used by every layer (no jirl imports here)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temp file in the same folder, fsync, then rename.

    A crash or an exception leaves either the old file or the new one, never a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> None:
    """Lay out, render and atomically write a matplotlib figure as PNG, then close it."""
    import io

    import matplotlib.pyplot as plt

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


BENCHMARK_TABLE_HEADER = "| date | machine | setting | env steps/s | command |\n| --- | --- | --- | --- | --- |\n"


def append_markdown_rows(path: str | os.PathLike, title: str, text: str, rows: list[str], header: str = BENCHMARK_TABLE_HEADER) -> None:
    """Add table ``rows`` under the section ``title`` of the markdown file ``path`` (e.g. BENCHMARKS.md),
    creating the file, the section (with ``text`` and ``header``) or its table when missing. Rows go under
    the section's last table row, before any notes that follow it; the file is replaced atomically."""
    path = Path(path)
    doc = path.read_text() if path.exists() else "# Benchmarks\n\n"
    body = [row.rstrip("\n") for row in rows]
    if title not in doc:
        doc = doc.rstrip("\n") + f"\n\n{title}\n\n{text}\n\n{header}" + "".join(r + "\n" for r in body)
    else:
        start = doc.index(title)
        nxt = doc.find("\n## ", start + len(title))
        end = len(doc) if nxt < 0 else nxt
        lines = doc[start:end].rstrip("\n").split("\n")
        if not any(line.startswith("| --- |") for line in lines):
            lines += ["", *header.rstrip("\n").split("\n")]
        last = max(i for i, line in enumerate(lines) if line.startswith("|"))
        lines[last + 1 : last + 1] = body
        doc = doc[:start] + "\n".join(lines) + "\n" + doc[end:]
    atomic_write_bytes(path, (doc if doc.endswith("\n") else doc + "\n").encode())

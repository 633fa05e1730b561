#!/usr/bin/env python3
"""Execute a notebook with papermill and keep the committed file unless its content changed.

Usage: python scripts/execute_notebook.py NOTEBOOK --cwd DIR [-p NAME VALUE ...]

The notebook is executed into a temporary file beside it. If its cells (sources,
outputs, tags) equal the committed notebook's, the committed file is left as it
is (papermill's timings and execution timestamps do not count), so re-running
`make notebooks` on unchanged results rewrites nothing. Otherwise the new
notebook replaces the old one atomically. A failed execution leaves the
committed notebook untouched and exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

VOLATILE_CELL_METADATA = ("papermill", "execution")
VOLATILE_NOTEBOOK_METADATA = ("papermill",)


def content(notebook: dict[str, Any]) -> dict[str, Any]:
    """What a reader sees of a notebook: its cells and metadata, less execution timings."""
    cells = [{**{k: v for k, v in cell.items() if k not in ("metadata", "id")},
              "metadata": {k: v for k, v in cell.get("metadata", {}).items() if k not in VOLATILE_CELL_METADATA}}
             for cell in notebook.get("cells", [])]
    meta = {k: v for k, v in notebook.get("metadata", {}).items() if k not in VOLATILE_NOTEBOOK_METADATA}
    return {"cells": cells, "metadata": meta}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--cwd", type=Path, required=True, help="folder the notebook runs in")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a parameter to inject, its value read as YAML as papermill's -p does")
    args = parser.parse_args(argv)
    import papermill
    import yaml


    path = args.notebook
    fd, tmp = tempfile.mkstemp(suffix=".ipynb", prefix=f".{path.stem}-", dir=path.parent)
    os.close(fd)
    started = time.time()
    try:
        papermill.execute_notebook(str(path), tmp, parameters={name: yaml.safe_load(value) for name, value in args.p}, cwd=str(args.cwd), kernel_name="python3",
                                   log_output=False, progress_bar=False)
        new, old = (json.loads(Path(p).read_text()) for p in (tmp, path))
        if content(new) == content(old):
            print(f"papermill {path}: {time.time() - started:.0f} s, unchanged (kept)")
            return 0
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        print(f"papermill {path}: {time.time() - started:.0f} s, updated")
        return 0
    except Exception as err:  # papermill's PapermillExecutionError names the failing cell
        print(f"papermill {path}: failed: {err}", file=sys.stderr)
        return 1
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


if __name__ == "__main__":
    sys.exit(main())

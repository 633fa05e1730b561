#!/usr/bin/env python3
"""Execute a notebook with papermill and keep the committed file unless its content changed.

Usage: python scripts/execute_notebook.py NOTEBOOK --cwd DIR [-p NAME VALUE ...]

The notebook is executed into a temporary file beside it. If its cells (sources,
outputs, tags) equal the committed notebook's, the committed file is left as it
is, so re-running `make notebooks` on unchanged results rewrites nothing.
papermill's timings and execution timestamps do not count, nor does what nbval's
sanitiser (tests/nbval_sanitize.cfg) lets differ between two runs of a notebook,
such as an object's memory address in its text form. Otherwise the new
notebook replaces the old one atomically. A failed execution leaves the
committed notebook untouched and exits non-zero.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

VOLATILE_CELL_METADATA = ("papermill", "execution")
VOLATILE_NOTEBOOK_METADATA = ("papermill",)
SANITIZE = Path(__file__).resolve().parent.parent / "tests" / "nbval_sanitize.cfg"


def sanitizers(path: Path = SANITIZE) -> list[tuple[re.Pattern[str], str]]:
    """nbval's sanitiser patterns: (regex, replacement) for what may differ between two runs."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(path)
    return [(re.compile(config[s]["regex"]), config[s]["replace"]) for s in config.sections()]


def _sanitized(value: Any, patterns: list[tuple[re.Pattern[str], str]]) -> Any:
    if isinstance(value, str):
        for regex, replace in patterns:
            value = regex.sub(replace, value)
        return value
    if isinstance(value, list):
        return [_sanitized(v, patterns) for v in value]
    if isinstance(value, dict):
        return {k: _sanitized(v, patterns) for k, v in value.items()}
    return value


def content(notebook: dict[str, Any]) -> dict[str, Any]:
    """What a reader sees of a notebook: its cells and metadata, less execution timings and sanitised outputs."""
    patterns = sanitizers()
    cells = [{**{k: (_sanitized(v, patterns) if k == "outputs" else v) for k, v in cell.items()
                 if k not in ("metadata", "id")},
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

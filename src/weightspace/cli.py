"""Command line: ``python -m weightspace list`` and ``python -m weightspace run NAME``."""

from __future__ import annotations

import argparse
import json
import sys

from weightspace import experiments
from weightspace.profiles import PROFILES
from weightspace.results import result_path


def _parse_override(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--set takes KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="weightspace", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the experiments")
    run = sub.add_parser("run", help="run one experiment and write its results JSON")
    run.add_argument("name", help="experiment name, e.g. neuron_embedding.table1")
    run.add_argument("--profile", default="quick", choices=PROFILES)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    run.add_argument("--recompute", action="store_true", help="ignore a stored result with the same config hash")
    run.add_argument("--set", dest="overrides", action="append", type=_parse_override, default=[],
                     metavar="KEY=VALUE", help="override a config setting (JSON values), repeatable")
    args = parser.parse_args(argv)

    if args.command == "list":
        for name in experiments.names():
            print(f"{name:40s} {experiments.get(name).TITLE}")
        return 0
    try:
        result = experiments.run(args.name, args.profile, args.seed, args.device, args.recompute,
                                 **dict(args.overrides))
    except (KeyError, ValueError, RuntimeError, FileNotFoundError) as err:
        print(f"error: {err.args[0] if err.args else err}", file=sys.stderr)
        return 2
    print(f"{args.name} [{args.profile}, seed {args.seed}] -> {result_path(args.profile, args.name, args.seed)}")
    for key, value in result.metrics.items():
        print(f"  {key}: {value}")
    return 0

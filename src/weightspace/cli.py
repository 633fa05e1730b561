"""Command line: ``python -m weightspace list | run NAME | sweep TARGET... | show NAME | kernels | claims | bench``."""

from __future__ import annotations

import argparse
import json
import sys
import time

from weightspace import isa
from weightspace.profiles import PROFILES


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
    grid = sub.add_parser("sweep", help="run experiments x seeds (one Ray task each, or in this process), "
                                        "write each result and summarise the metrics over the seeds")
    grid.add_argument("targets", nargs="+", metavar="TARGET",
                      help="an experiment (nern.cifar10), a paper (nern) or all")
    grid.add_argument("--seeds", default="0", help="3, 1,2 or 0-2 (default 0)")
    grid.add_argument("--profile", default="quick", choices=PROFILES)
    grid.add_argument("--device", default="cpu", help="cpu, cuda, ... (on Ray, a CUDA task takes one GPU)")
    grid.add_argument("--backend", default="ray", choices=("ray", "serial"),
                      help="ray: one task per run (default); serial: one after another in this process")
    grid.add_argument("--address", help="the Ray cluster to connect to (default $RAY_ADDRESS, else a local one)")
    grid.add_argument("--num-cpus", type=int, help="CPUs of a local Ray cluster started here (default: all)")
    grid.add_argument("--recompute", action="store_true", help="recompute the runs whose results are stored")
    show = sub.add_parser("show", help="print an experiment's config at a profile")
    show.add_argument("name", help="experiment name, e.g. nern.cifar10")
    show.add_argument("--profile", default="quick", choices=PROFILES)
    kernels = sub.add_parser("kernels", help="say which CPU kernels the quick profile computes with")
    kernels.add_argument("--pinnable", action="store_true",
                         help="exit 3 when the quick profile's AVX2 pin cannot apply (or is switched off) here")
    kernels.add_argument("--digits", action="store_true",
                         help="exit 3 unless the committed quick digits can be compared here: the pin applies and "
                              "this CPU is a model they were made on")
    check = sub.add_parser("claims", help="check the claims of quick experiments over the committed seeds")
    check.add_argument("names", nargs="*", help="experiments or papers (default: every quick experiment with claims)")
    check.add_argument("--recompute", action="store_true",
                       help="recompute seed 0 (nothing is written) and check it against the committed seeds' claims")
    timing = sub.add_parser("bench", help="time the library's hot paths against in-project baselines "
                                          "and write results/bench/<device>.json")
    timing.add_argument("names", nargs="*", help="only the cases whose name contains one of these")
    timing.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1: figures per core)")
    timing.add_argument("--no-save", action="store_true", help="print only; write no results/bench file")
    timing.add_argument("--processes", type=int, default=3,
                        help="fresh Python processes for each side of a case, their timed calls pooled (default 3; "
                             "0: both sides once, in this process)")
    timing.add_argument("--one", metavar="NAME", help=argparse.SUPPRESS)  # bench.sample_apart's child: its samples
    timing.add_argument("--side", default="both", help=argparse.SUPPRESS)  # with --one: ours, baseline or both
    args = parser.parse_args(argv)

    if args.command == "kernels":
        print(isa.describe())
        unpinned = isa.opted_out() or not isa.pinnable()
        if args.digits and not unpinned:
            here, made = _cpu_models()
            if here not in made:
                print(f"the committed quick digits were made on {', '.join(made) or 'no CPU'}, not on this CPU "
                      f"({here}); another CPU model can round some sums differently under the same AVX2 pin, so "
                      "its digits are not compared")
                return 3
        return 3 if (args.pinnable or args.digits) and unpinned else 0
    # The CPU kernels are chosen for the profile before torch is imported (it is, by the modules below);
    # a benchmark times the kernels the full profile computes with (the machine's own).
    isa.configure("full" if args.command == "bench" else getattr(args, "profile", "quick"))
    if args.command == "bench":
        return _bench(args)
    from weightspace import experiments
    from weightspace.results import result_path

    if args.command == "claims":
        return _check_claims(args.names, args.recompute)
    if args.command == "sweep":
        return _sweep(args)
    if args.command == "list":
        from weightspace.report import notebooks

        pages = {name: page for page, names in notebooks().items() for name in names}
        for name in experiments.names():
            profiles = experiments.profiles(name)
            only = ("  [full profile only]" if "quick" not in profiles else
                    "  [also a cpu profile]" if "cpu" in profiles else "")
            print(f"{name:36s} {experiments.get(name).TITLE}{only}")
            if name in pages:
                print(f"{'':36s} notebook: {pages[name]}")
        return 0
    if args.command == "show":
        try:
            print(json.dumps(experiments.config(args.name, args.profile), indent=1, default=str))
        except (KeyError, ValueError) as err:
            print(f"error: {err.args[0] if err.args else err}", file=sys.stderr)
            return 2
        return 0
    overrides = dict(args.overrides)
    path = result_path(args.profile, args.name, args.seed, overrides=overrides)
    started = time.time()
    try:
        loaded = not args.recompute and experiments.stored(args.name, args.profile, args.seed, **overrides)
        result = experiments.run(args.name, args.profile, args.seed, args.device, args.recompute, **overrides)
    except (KeyError, ValueError, RuntimeError, OSError) as err:
        print(f"error: {err.args[0] if err.args else err}", file=sys.stderr)
        return 2
    how = "loaded stored result" if loaded else f"computed in {time.time() - started:.1f} s, wrote"
    print(f"{args.name} [{args.profile}, seed {args.seed}]: {how} {path}")
    for key, value in result.metrics.items():
        print(f"  {key}: {_rounded(value)}")
    return 0


def _rounded(value: object) -> object:
    """A metric for people: floats to 4 significant digits, lists and dicts element by element."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def _sweep(args: argparse.Namespace) -> int:
    """Run a sweep, print the metrics over seeds and the failures: 2 for bad arguments, 1 if a run failed."""
    from weightspace import sweep

    try:
        report = sweep.sweep(args.targets, sweep.parse_seeds(args.seeds), args.profile, args.device, args.backend,
                             args.address, args.num_cpus, args.recompute)
    except (KeyError, ValueError, RuntimeError, ConnectionError) as err:
        print(f"error: {err.args[0] if err.args else err}", file=sys.stderr)
        return 2
    print(sweep.summary(report.results))
    for failure in report.failed:
        print(f"FAILED {failure.task}: {failure.error}", file=sys.stderr)
    return 1 if report.failed else 0


def _bench(args: argparse.Namespace) -> int:
    """Run the benchmarks, one line per case as it finishes; 1 if a target is not met, 2 for bad arguments."""
    import torch

    from weightspace import bench

    for name, value, least in (("threads", args.threads, 1), ("processes", args.processes, 0)):
        if value < least:
            print(f"error: --{name} {value} is not allowed: it takes a whole number of at least {least}",
                  file=sys.stderr)
            return 2
    try:
        if args.one:
            torch.set_num_threads(args.threads)
            print(json.dumps(bench.sample(bench.find(args.one), args.side)))
            return 0
        report = bench.run(names=args.names, threads=args.threads, progress=lambda t: print(bench.line(t), flush=True),
                           processes=args.processes)
    except (KeyError, ValueError) as err:
        print(f"error: {err.args[0]}", file=sys.stderr)
        return 2
    gpu = f", GPU {report['gpu']}" if report["gpu"] else ""
    print(f"device: {report['device']}{gpu}, {report['threads']} thread(s), torch {report['torch']}")
    if report["skipped"]:
        print(f"skipped, no GPU here: {', '.join(report['skipped'])}")
    if not args.no_save:
        print(f"wrote {bench.save(report)}")
    return 0 if all(c["met"] for c in report["cases"]) else 1


def _cpu_models() -> tuple[str, list[str]]:
    """This machine's CPU model and the models the committed quick results were made on (from their provenance)."""
    from weightspace.results import all_results, device_name

    model = lambda device: device.split(",")[0]  # noqa: E731  device_name: "<model>, <threads> of <cores> cores, ..."
    return model(device_name("cpu")), sorted({model(r.provenance.get("device", "")) for r in all_results()
                                              if r.profile == "quick"})


def _check_claims(targets: list[str], recompute: bool) -> int:
    """Evaluate (or, with ``recompute``, re-check) the claims of the named quick experiments; 1 if any fails."""
    from weightspace import claims, experiments, sweep

    checked = [n for n in experiments.names() if "quick" in experiments.profiles(n) and claims.claims_of(n)]
    try:
        named = sweep.expand(targets or ["all"])
    except KeyError as err:
        print(f"error: {err.args[0]}", file=sys.stderr)
        return 2
    names = [n for n in named if n in checked]
    if not names:
        print(f"error: {', '.join(targets)} has no quick experiment with claims; they are: {', '.join(checked)}",
              file=sys.stderr)
        return 2
    failed = []
    for name in names:
        result = (experiments.run(name, "quick", 0, save=False, recompute=True) if recompute
                  else experiments.stored(name, "quick", 0))
        if result is None:
            failed.append(f"{name}: no stored quick result for seed 0 (run `python -m weightspace run {name}`)")
            continue
        print(f"{name}:")
        print(claims.table(result).to_string())
        if recompute:
            problems, notes = claims.verify(result)
            failed += problems
            for note in notes:
                print(f"note: {note}")
    for problem in failed:
        print(f"FAILED {problem}", file=sys.stderr)
    return 1 if failed else 0

"""Benchmarks: cases found per paper, ours and the baseline timed, targets judged, the report written."""

import dataclasses
import json
import sys
import time
import types

import pytest
import torch

from weightspace import bench
from weightspace.cli import main


def _spin(seconds: float) -> None:
    """Compute for ``seconds`` of this thread's CPU time."""
    started = time.thread_time()
    while time.thread_time() - started < seconds:
        pass


def _toy(monkeypatch, **changes):
    module = types.ModuleType("weightspace.toypaper.bench")
    module.CASES = [bench.Case(**{"name": "toypaper.spin", "what": "a short computation against a longer one",
                                  "setup": lambda: 0.003, "ours": _spin,
                                  "baseline": lambda s: _spin(4 * s), "baseline_name": "4x as long",
                                  "max_ratio": 0.6, "items": 10, "unit": "naps/s", "min_rate": 1.0, "repeats": 2,
                                  **changes})]
    monkeypatch.setitem(sys.modules, "weightspace.toypaper.bench", module)


def test_a_case_is_timed_against_its_baseline_and_judged(monkeypatch):
    _toy(monkeypatch)
    (timing,) = bench.run(papers=["toypaper"], processes=0)["cases"]
    assert timing["ratio"] == pytest.approx(0.25, abs=0.15) and timing["met"]
    assert timing["rate"] == pytest.approx(10 / timing["ours_cpu_s"])
    assert timing["ours_s"] >= timing["ours_cpu_s"] * 0.9
    _toy(monkeypatch, max_ratio=0.01)
    (timing,) = bench.run(papers=["toypaper"], processes=0)["cases"]
    assert not timing["met"] and "ours/baseline <= 0.01" in timing["targets"]


def test_papers_without_benchmarks_are_skipped_and_unknown_names_fail(monkeypatch):
    _toy(monkeypatch)
    assert [c.name for c in bench.cases(["toypaper", "neuron_embedding"])] == ["toypaper.spin"]
    with pytest.raises(KeyError, match="unknown paper 'no_such_paper'"):
        bench.cases(["no_such_paper"])
    with pytest.raises(KeyError, match="no benchmark matches zzz"):
        bench.run(papers=["toypaper"], names=["zzz"])
    with pytest.raises(KeyError, match="no benchmark is called toypaper.sp; cases: toypaper.spin"):
        bench.find("toypaper.sp", ["toypaper"])


def test_each_side_of_a_case_runs_in_fresh_processes_pooled_and_a_failing_one_names_itself():
    report = bench.run(names=["dws.layer_2-32-32-1"], processes=2)
    (timing,) = report["cases"]
    assert report["processes"] == 2 and timing["name"] == "dws.layer_2-32-32-1" and timing["processes"] == 2
    assert timing["ours_cpu_s"] > 0 and timing["ratio"] == timing["ours_cpu_s"] / timing["baseline_cpu_s"]
    low, high = timing["ratio_range"]
    assert 0 < low <= high and "over 2 processes" in bench.line(timing)
    with pytest.raises(RuntimeError, match="benchmark dws.no_such_case failed in its own process .*no benchmark is "
                                           "called dws.no_such_case"):
        bench.sample_apart("dws.no_such_case", 1)
    ours, base = bench.sample(bench.find("dws.layer_2-32-32-1"), "ours")
    assert len(ours) == bench.find("dws.layer_2-32-32-1").repeats and base == []
    with pytest.raises(ValueError, match="unknown side 'theirs'"):
        bench.sample(bench.find("dws.layer_2-32-32-1"), "theirs")
    with pytest.raises(ValueError, match="processes = -1"):
        bench.run(names=["dws.layer_2-32-32-1"], processes=-1)


def test_timings_pool_every_call_and_keep_each_process_ratio(monkeypatch):
    _toy(monkeypatch)
    case = bench.find("toypaper.spin", ["toypaper"])
    runs = [([(1.0, 1.0), (1.2, 1.1)], [(4.0, 4.0), (4.0, 4.0)]), ([(2.0, 2.0), (2.0, 2.0)], [(4.0, 4.0)] * 2)]
    timing = bench.judge(case, runs)
    assert timing.ours_cpu_s == pytest.approx(1.55) and timing.baseline_cpu_s == 4.0
    assert timing.ratio_range == pytest.approx([1.05 / 4, 0.5]) and timing.processes == 2 and timing.met
    alone = bench.judge(dataclasses.replace(case, baseline=None, max_ratio=None), [(r[0], []) for r in runs])
    assert alone.ratio is None and alone.ratio_range is None and alone.processes == 2
    table = bench.frame({"cases": [dataclasses.asdict(timing), dataclasses.asdict(alone)]})
    assert list(table["range over processes"]) == ["0.263-0.500 (2)", "—"]
    assert "over 2 processes" in bench.line(timing) and "processes" not in bench.line(alone)


def test_the_report_is_written_per_device_and_the_cli_prints_each_case(monkeypatch, tmp_path, capsys):
    _toy(monkeypatch)
    monkeypatch.setattr(bench, "PAPERS", ("toypaper",))
    monkeypatch.setattr(bench.run, "__defaults__", (("toypaper",), (), 1, None, 3))
    monkeypatch.setenv("WEIGHTSPACE_RESULTS", str(tmp_path))
    assert main(["bench", "--processes", "0"]) == 0
    out = capsys.readouterr().out
    assert "toypaper.spin" in out and "met: ours/baseline <= 0.6" in out
    (path,) = (tmp_path / "bench").glob("*.json")
    report = json.loads(path.read_text())
    assert report["threads"] == 1 and report["cases"][0]["name"] == "toypaper.spin"
    assert report["processes"] == "this one"
    assert path.stem == bench.device_slug(report) and path.stat().st_mode & 0o777 == 0o644
    assert main(["bench", "--threads", "0"]) == 2 and main(["bench", "--processes", "-1"]) == 2


def test_a_gpu_case_is_skipped_without_a_gpu_and_timed_by_the_wall_clock_around_synchronised_calls(monkeypatch):
    _toy(monkeypatch, device="cuda", ours=time.sleep, baseline=lambda s: time.sleep(4 * s))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    report = bench.run(papers=["toypaper"], processes=0)
    assert report["cases"] == [] and report["skipped"] == ["toypaper.spin"] and report["gpu"] is None
    synced = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: synced.append(1))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda: "Toy GPU 1")
    report = bench.run(papers=["toypaper"], processes=0)
    (timing,) = report["cases"]
    assert timing["ours_cpu_s"] == timing["ours_s"] >= 0.003  # sleeping costs the thread no CPU time
    assert timing["ratio"] == pytest.approx(0.25, abs=0.1) and len(synced) == 2 * 2 * 2  # each timed call, both sides
    assert report["gpu"] == "Toy GPU 1" and bench.device_slug(report).endswith("-toy-gpu-1")
    with pytest.raises(ValueError, match="benchmark toypaper.spin: unknown device 'gpu'"):
        bench.Case("toypaper.spin", "", lambda: 0, time.sleep, device="gpu")

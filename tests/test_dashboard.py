"""The dashboard: one line per paper table or figure, each naming a declared row and a printed value."""

import pytest

from weightspace import dashboard, experiments
from weightspace.report import printed


@pytest.mark.parametrize("line", dashboard.LINES, ids=lambda l: f"{l.experiment}:{l.row}")
def test_every_line_names_a_row_its_experiment_declares(line):
    table = experiments.tables_of(line.experiment)[line.table]
    ids = {i for p in experiments.profiles(line.experiment) for i in table.row_ids(experiments.config(line.experiment, p))}
    assert line.row in ids
    if line.references is not None:
        assert line.paper_value() == pytest.approx(printed(line.references, line.row, line.metric)
                                                   * (100 if line.percent else 1))


def test_the_status_compares_only_full_results_on_the_papers_data():
    frame = dashboard.frame()
    assert len(frame) == len(dashboard.LINES)
    for status, line in zip(frame["status"], dashboard.LINES):
        assert status.startswith(("reproduced", "not reproduced", "full recipe on", "stale", "quick scale only",
                                  "CPU scale and quick only", "not run", "full result"))
        if status.startswith(("quick scale only", "CPU scale")):
            assert "by" not in status  # a quick or cpu run is never compared with the paper


@pytest.mark.parametrize("line", [l for l in dashboard.LINES if l.references], ids=lambda l: f"{l.experiment}:{l.row}")
def test_a_lines_data_is_the_data_of_the_papers_values(line):
    from weightspace.report import same_data

    datas = {r.data for r in line.references if r.row == line.row}
    assert datas == {None} or all(same_data(d, line.data) for d in datas), (datas, line.data)


def test_a_full_run_of_some_rows_fills_only_its_rows(tmp_path, monkeypatch):
    from weightspace import results
    from weightspace.results import Result, save_result

    monkeypatch.setenv("WEIGHTSPACE_RESULTS", str(tmp_path))
    line = next(l for l in dashboard.LINES if l.experiment == "neuron_embedding.table1" and l.row == "fc2-emb")
    other = next(l for l in dashboard.LINES if l.experiment == "neuron_embedding.table1" and l.row == "conv-emb")
    rows = [{"row": "fc2-emb", "status": "", "accuracy": 97.5}, {"row": "conv-emb", "status": "not run", "accuracy": None}]
    save_result(Result("neuron_embedding.table1", "full", 0, {}, "h", tables={"table1": rows},
                       data={"dataset": "MNIST"}, overrides={"rows": ["fc2-emb"]}))
    assert results.load_result("full", "neuron_embedding.table1") is None  # no default run
    assert dashboard._Stored().full(line).overrides == {"rows": ["fc2-emb"]}
    filled, empty = dashboard.frame([line, other]).to_dict("records")
    assert filled["ours, full"] == "97.50" and "--set rows=['fc2-emb']" in filled["full run (data, hardware, time)"]
    assert empty["ours, full"] == "—" and empty["full run (data, hardware, time)"] == "—", \
        "a row the run did not compute is not filled by it"


def test_committed_cpu_results_fill_their_own_column_and_are_never_compared(tmp_path, monkeypatch):
    from weightspace.results import Result, save_result

    monkeypatch.setenv("WEIGHTSPACE_RESULTS", str(tmp_path))
    line = next(l for l in dashboard.LINES if l.experiment == "nern.cifar10")
    for seed, value in enumerate((90.0, 92.0, 94.0)):
        save_result(Result(line.experiment, "cpu", seed, {}, "h", data={"dataset": "MNIST"},
                           tables={line.table: [{"row": line.row, "status": "", line.metric: value}]}))
    row = dashboard.frame([line]).iloc[0]
    assert row["ours, cpu (mean ± std)"] == "92.00 ± 2.00 (3 seeds)"
    assert row["ours, full"] == "—" and row["status"].startswith("CPU scale and quick only")


def test_the_dws_paper_table_gives_the_cpu_seeds_as_mean_and_std_like_the_dashboard():
    from weightspace.dws import reference
    from weightspace.results import Result

    seeds = [Result("dws.fmnist_classification", "cpu", s, {}, "h",
                    tables={"classification": [{"row": "dwsnet", "accuracy": a}]}) for s, a in enumerate((60.0, 62.0))]
    table = reference.paper_table(reference.FASHION_MNIST_INR, reference.FASHION_MNIST_INR_STD, None,
                                  "classification", cpu=seeds)
    dwsnet = next(r.label for r in reference.FASHION_MNIST_INR if r.row == "dwsnet")
    assert table.loc[dwsnet, "cpu (ours)"] == "61.00 ± 1.41 (2 seeds)"
    assert table.loc[dwsnet, "full (ours)"] == "—"
    assert "cpu (ours)" not in reference.paper_table(reference.FASHION_MNIST_INR, {}, None, "classification")


def test_over_seeds_gives_mean_and_std_and_no_spread_for_one_seed():
    from weightspace.report import over_seeds

    assert over_seeds([1.0, 3.0]) == "2.00 ± 1.41 (2 seeds)"
    assert over_seeds([54.654]) == "54.65 (1 seed)"
    assert over_seeds([]) == "—"

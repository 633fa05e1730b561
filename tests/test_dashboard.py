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
                                  "not run", "full result"))
        if status.startswith("quick scale only"):
            assert "by" not in status  # a quick run is never compared with the paper

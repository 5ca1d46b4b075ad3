"""Report.failure_modes and Report.failure_mode_of_row (issue 25, part 1): summary.json's nested
"failure_modes" (groups of modes) as one row per mode with the group's columns beside it, and each
report row's class-group mode. Checked on a hand-made summary (the library's grouping itself is
tested in tests/unit/core/test_failure_modes.cpp and tests/cli/test_failure_modes.cpp).

Run by CTest (python.failure_modes): PYTHONPATH=<build>/python."""
import numpy as np

import camscope
from camscope._report import Report


def _mode(id_, mode, rows, description):
    return {"id": id_, "mode": mode, "errors": len(rows), "share": 0.5, "mean_confidence": 0.9,
            "centre_share": 0.1, "centre_n": len(rows), "evidence_area": 0.06, "centre_of_mass": [0.1, 0.1],
            "location": "top-left corner", "goes_to": [{"class": 1, "name": "b", "errors": len(rows)}],
            "description": description, "typical_indices": rows[:1], "rows": rows}


def _report(summary):
    r = Report.__new__(Report)  # the table reads only the summary
    r.summary = summary
    return r


def test_failure_modes_flattened_and_rows_mapped():
    summary = {
        "overall": {"correct": 4, "errors": 4},
        "failure_modes": {"groups": [
            {"kind": "class", "true": 0, "true_name": "a", "errors": 4, "k": 2, "best_silhouette": 0.6,
             "file": "failure_modes/class_0_a.png",
             "modes": [_mode(0, 1, [1, 5], "looks at the top-left corner"), _mode(1, 2, [2, 7], "looks all over")]},
            {"kind": "pair", "true": 0, "true_name": "a", "pred": 1, "pred_name": "b", "errors": 4, "k": 1,
             "best_silhouette": None, "file": "failure_modes/pair_0_1_a_b.png",
             "modes": [_mode(2, 1, [1, 2, 5, 7], "goes to b")]},
        ]},
    }
    r = _report(summary)
    rows = r.failure_modes
    rows = rows.to_dict("records") if hasattr(rows, "to_dict") else rows
    assert [(x["kind"], x["mode"], x["errors"]) for x in rows] == [("class", 1, 2), ("class", 2, 2), ("pair", 1, 4)]
    assert rows[0]["description"] == "looks at the top-left corner"
    assert rows[2]["pred_name"] == "b" and rows[0]["pred_name"] is None
    assert rows[0]["file"] == "failure_modes/class_0_a.png"
    # The class group's modes only: the pair group's mode covers the same rows and is left out.
    assert r.failure_mode_of_row.tolist() == [-1, 0, 1, -1, -1, 0, -1, 1]


def test_no_failure_modes_is_empty():
    r = _report({"overall": {"correct": 3, "errors": 0}, "failure_modes": None})
    assert len(r.failure_modes) == 0
    assert np.array_equal(r.failure_mode_of_row, np.full(3, -1))
    assert camscope.Report is Report

"""The per-AU F1 chart (shared with tfau.training.results) and its summary.csv reader."""

import numpy as np
import pytest

from tfau.plots import plot_f1_vs_paper, read_f1_summary
from tfau.training.paper_results import paper_result
from tfau.training.results import evaluate_predictions, write_results


def test_results_folder_chart_round_trips_through_summary_csv(tmp_path, check_png):
    rng = np.random.default_rng(0)
    aus = (1, 2, 4)
    folds = []
    for part in ("part1", "part2"):
        labels = rng.integers(0, 2, (40, 3))
        probabilities = np.clip(labels * 0.6 + rng.uniform(0, 0.5, labels.shape), 0, 1)
        folds.append(evaluate_predictions(labels, probabilities, aus, fold=part))
    paper = paper_result("drml", "bp4d")
    paths = write_results(tmp_path / "results", folds, paper, title="DRML")
    check_png(paths["chart"])

    read_aus, f1, paper_row = read_f1_summary(tmp_path / "results" / "summary.csv")
    assert read_aus == aus
    f1_values = np.stack([fold.f1 for fold in folds])
    np.testing.assert_allclose(f1["mean"][:3], f1_values.mean(axis=0), atol=1e-4)
    np.testing.assert_allclose(f1["std"][:3], f1_values.std(axis=0), atol=1e-4)
    np.testing.assert_allclose(paper_row, [36.4, 41.8, 43.0, 48.3], atol=1e-2)
    check_png(plot_f1_vs_paper(tmp_path / "again.png", read_aus, f1, paper_row, title="DRML"))


def test_errors(tmp_path):
    with pytest.raises(ValueError, match=r"`paper_row` must have one value per AU and the mean"):
        plot_f1_vs_paper(tmp_path / "x.png", (1, 2), {"mean": [1, 2, 3], "std": [0, 0, 0]}, [1])
    bad = tmp_path / "summary.csv"
    bad.write_text("au,f1\nAU1,3\n")
    with pytest.raises(ValueError, match=r"must be a tfau summary\.csv"):
        read_f1_summary(bad)

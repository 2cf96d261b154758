"""Results tables, charts and the papers' numbers."""

import csv

import numpy as np
import pytest

from tfau.training.paper_results import PAPER_RESULTS, paper_result
from tfau.training.results import evaluate_predictions, summarize, write_results


def _f1(y, p):
    tp = np.sum((y == 1) & (p >= 0.5))
    fp = np.sum((y == 0) & (p >= 0.5))
    fn = np.sum((y == 1) & (p < 0.5))
    return 100 * 2 * tp / (2 * tp + fp + fn)


def test_evaluate_predictions_matches_numpy_and_ignores_unknown_labels():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(50, 3))
    y[:5, 0] = -1
    p = rng.random((50, 3))
    result = evaluate_predictions(y, p, aus=(1, 2, 4), fold="part2", seed=3)
    known = y[:, 0] >= 0
    np.testing.assert_allclose(result.f1[0], _f1(y[known, 0], p[known, 0]))
    np.testing.assert_allclose(result.f1[1:], [_f1(y[:, k], p[:, k]) for k in (1, 2)])
    np.testing.assert_allclose(result.accuracy[2], 100 * np.mean((p[:, 2] >= 0.5) == y[:, 2]))
    assert (result.fold, result.seed, result.num_frames) == ("part2", 3, 50)


def test_evaluate_predictions_rejects_wrong_au_count():
    with pytest.raises(ValueError, match=r"shape \(num_frames, 2\) for aus=\(1, 2\)"):
        evaluate_predictions(np.zeros((4, 3)), np.zeros((4, 3)), aus=(1, 2))


def _folds(seed=0):
    rng = np.random.default_rng(seed)
    folds = []
    for part in ("part1", "part2", "part3"):
        y = rng.integers(0, 2, size=(40, 12))
        p = np.clip(y * 0.6 + rng.random((40, 12)) * 0.5, 0, 1)
        folds.append(evaluate_predictions(y, p, aus=paper_result("drml", "bp4d").aus, fold=part))
    return folds


def test_summarize_is_mean_and_population_std_over_folds():
    folds = _folds()
    summary = summarize(folds)
    f1 = np.stack([f.f1 for f in folds])
    np.testing.assert_allclose(summary["f1"]["mean"][:-1], f1.mean(0))
    np.testing.assert_allclose(summary["f1"]["std"][:-1], f1.std(0))
    np.testing.assert_allclose(summary["f1"]["mean"][-1], f1.mean(1).mean())
    np.testing.assert_allclose(summary["f1"]["std"][-1], f1.mean(1).std())


def test_summarize_rejects_mixed_aus():
    a = evaluate_predictions([[1, 0]], [[0.9, 0.1]], aus=(1, 2))
    b = evaluate_predictions([[1, 0]], [[0.9, 0.1]], aus=(1, 4))
    with pytest.raises(ValueError, match="same AUs"):
        summarize([a, b])


def test_write_results_folder(tmp_path):
    folds = _folds()
    paper = paper_result("drml", "bp4d")
    paths = write_results(tmp_path / "results", folds, paper, title="DRML test")
    with open(paths["per_fold_csv"]) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 9 and {r["fold"] for r in rows} == {"part1", "part2", "part3"}
    f1_part2 = next(r for r in rows if r["fold"] == "part2" and r["metric"] == "f1")
    np.testing.assert_allclose(float(f1_part2["AU7"]), folds[1].f1[4], atol=1e-4)
    with open(paths["summary_csv"]) as f:
        summary = list(csv.DictReader(f))
    assert [r["au"] for r in summary] == [f"AU{a}" for a in paper.aus] + ["mean"]
    assert [float(r["paper_f1"]) for r in summary] == [*paper.f1, 48.3]
    np.testing.assert_allclose(
        float(summary[0]["f1_mean"]), np.mean([f.f1[0] for f in folds]), atol=1e-4
    )
    text = open(paths["markdown"]).read()
    assert "| paper | 36.4 | 41.8 |" in text and "| seed 0 / part3 |" in text
    assert text.count("| mean +- std |") == 3
    png = open(paths["chart"], "rb").read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_paper_numbers_and_their_documented_inconsistencies():
    assert len(PAPER_RESULTS) == 8
    for result in PAPER_RESULTS.values():
        assert len(result.aus) == (12 if result.dataset == "bp4d" else 8)
    inconsistent = {k for k, r in PAPER_RESULTS.items() if not r.consistent}
    # The printed averages of DRML and EAC-Net are not the means of their own rows.
    assert inconsistent == {
        ("drml", "bp4d"),
        ("drml", "disfa"),
        ("eacnet", "bp4d"),
        ("eacnet", "disfa"),
    }
    for key in inconsistent:
        assert "not the row mean" in PAPER_RESULTS[key].note
    assert round(paper_result("drml", "bp4d").mean, 2) == 47.69  # PAttNet Table 1
    assert round(paper_result("eacnet", "bp4d").mean, 2) == 55.58  # PAttNet Table 1
    assert paper_result("jaanet", "disfa").per_au[25] == 88.3
    with pytest.raises(KeyError, match="No published result for pattnet/disfa"):
        paper_result("pattnet", "disfa")

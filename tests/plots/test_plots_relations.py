"""AU relations: Jaccard co-occurrence and correlation tables against plain loops."""

import numpy as np
import pytest

from tfau.plots import (
    correlation_matrix,
    jaccard_matrix,
    plot_cooccurrence,
    plot_relations,
    relation_distance,
    relation_tables,
)


def random_labels(num_frames=200, num_aus=5, unknown=0.15, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.uniform(size=(num_frames, 1))
    labels = (rng.uniform(size=(num_frames, num_aus)) + 0.5 * base > 0.9).astype(int)
    labels[rng.uniform(size=labels.shape) < unknown] = -1
    return labels


def jaccard_loop(labels):
    num_aus = labels.shape[1]
    table = np.full((num_aus, num_aus), np.nan)
    for i in range(num_aus):
        for j in range(num_aus):
            rows = (labels[:, i] >= 0) & (labels[:, j] >= 0)
            a, b = labels[rows, i] == 1, labels[rows, j] == 1
            if (a | b).sum():
                table[i, j] = (a & b).sum() / (a | b).sum()
    return table


def test_jaccard_matches_loop_and_ignores_unknown():
    labels = random_labels()
    table = jaccard_matrix(labels)
    np.testing.assert_allclose(table, jaccard_loop(labels), equal_nan=True)
    np.testing.assert_allclose(table, table.T, equal_nan=True)
    assert np.allclose(np.diag(table), 1.0)
    # A pair whose positives only meet unknowns: 0 co-occurrence, not counted as union.
    assert jaccard_matrix([[1, -1], [-1, 1], [1, 0]])[0, 1] == 0.0
    assert jaccard_matrix([[1, 1], [1, -1], [0, 1]])[0, 1] == 0.5
    assert np.isnan(jaccard_matrix([[0, 1], [0, 0]])[0, 0])
    with pytest.raises(ValueError, match=r"1 \(present\), 0 \(absent\) or -1 \(unknown\)"):
        jaccard_matrix([[2, 0]])


def test_correlation_matches_numpy_on_shared_rows():
    labels = random_labels(seed=1)
    known = labels >= 0
    table = correlation_matrix(labels, known)
    for i in range(labels.shape[1]):
        for j in range(labels.shape[1]):
            rows = known[:, i] & known[:, j]
            expected = np.corrcoef(labels[rows, i], labels[rows, j])[0, 1]
            assert table[i, j] == pytest.approx(expected)
    values = np.random.default_rng(2).normal(size=(50, 3))
    np.testing.assert_allclose(correlation_matrix(values), np.corrcoef(values.T))
    assert np.isnan(correlation_matrix([[1.0, 0.0], [1.0, 1.0]])[0, 1])  # constant column


def test_relation_tables_and_distance():
    labels = random_labels(seed=3)
    rng = np.random.default_rng(4)
    perfect = np.where(labels == 1, 0.9, 0.1) + rng.uniform(-0.05, 0.05, labels.shape)
    tables = relation_tables(labels, perfect)
    np.testing.assert_allclose(tables["prediction"], tables["ground_truth"])
    assert tables["distance"] == 0.0
    noisy = rng.uniform(size=labels.shape)
    tables = relation_tables(labels, noisy)
    known = labels >= 0
    np.testing.assert_allclose(
        tables["prediction"], correlation_matrix((noisy >= 0.5).astype(float), known)
    )
    off = ~np.eye(labels.shape[1], dtype=bool)
    expected = np.mean((tables["prediction"] - tables["ground_truth"])[off] ** 2)
    assert tables["distance"] == pytest.approx(expected) and tables["distance"] > 0
    probabilities = relation_tables(labels, noisy, threshold=None)["prediction"]
    np.testing.assert_allclose(probabilities, correlation_matrix(noisy, known))
    assert relation_distance([[1, 0.5], [0.5, 1]], [[1, 0.3], [0.3, 1]]) == pytest.approx(0.04)
    with pytest.raises(ValueError, match=r"`y_prob` must have the shape of `y_true` \(200, 5\)"):
        relation_tables(labels, noisy[:10])


def test_cooccurrence_and_relation_pngs(tmp_path, check_png):
    aus = (1, 2, 4, 6, 12)
    labels = random_labels()
    check_png(plot_cooccurrence(tmp_path / "jaccard.png", jaccard_matrix(labels), aus))
    tables = relation_tables(labels, np.random.default_rng(5).uniform(size=labels.shape))
    image = check_png(
        plot_relations(
            tmp_path / "relations.png",
            {"ground truth": tables["ground_truth"], "model": tables["prediction"]},
            aus,
        )
    )
    assert image.shape[1] > image.shape[0]  # two tables side by side
    with pytest.raises(ValueError, match="`reference` must name one of the tables"):
        plot_relations(tmp_path / "x.png", {"model": tables["prediction"]}, aus)
    with pytest.raises(ValueError, match=r"`jaccard` must be \(4, 4\)"):
        plot_cooccurrence(tmp_path / "x.png", jaccard_matrix(labels), aus[:4])

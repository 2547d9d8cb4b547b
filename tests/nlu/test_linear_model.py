"""The calibrated linear classifier: training, numpy scoring, temperature, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from bot.nlu.linear_model import LinearSettings, softmax, train_linear_model


def _blobs(classes: int, per_class: int, seed: int = 0) -> tuple[sp.csr_matrix, list[str]]:
    """Sparse rows whose first `classes` columns say the class, plus noise columns."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for label in range(classes):
        for _ in range(per_class):
            row = np.zeros(classes + 20)
            row[label] = 1.0
            row[classes + rng.integers(0, 20, size=3)] = rng.random(3)
            rows.append(row / np.linalg.norm(row))
            labels.append(f"intent_{label}")
    return sp.csr_matrix(np.array(rows)), labels


@pytest.mark.parametrize("algorithm", ["svm", "logistic"])
def test_learns_and_scores_with_numpy_like_scikit_learn(algorithm: str) -> None:
    matrix, labels = _blobs(4, 10)
    model = train_linear_model(matrix, labels, LinearSettings(algorithm=algorithm))
    assert model.labels == ["intent_0", "intent_1", "intent_2", "intent_3"]
    assert model.weights.shape == (matrix.shape[1], 4) and model.weights.dtype == np.float32
    assert model.temperature > 0
    many = model.confidences_many(matrix)
    assert np.allclose(many.sum(axis=1), 1.0)
    assert [model.labels[i] for i in many.argmax(axis=1)] == labels
    for number in (0, 15, 39):
        row = matrix[number]
        single = model.confidences((row.indices.astype(np.int32), row.data.astype(np.float32)))
        assert np.allclose(single, many[number], atol=1e-5)


def test_two_classes_get_opposite_scores() -> None:
    matrix, labels = _blobs(2, 6)
    model = train_linear_model(matrix, labels, LinearSettings())
    row = matrix[0]
    scores = model.scores((row.indices.astype(np.int32), row.data.astype(np.float32)))
    assert scores[0] == pytest.approx(-scores[1])
    assert scores[0] > 0


def test_one_class_is_always_certain() -> None:
    matrix, labels = _blobs(1, 3)
    model = train_linear_model(matrix, labels, LinearSettings())
    empty = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))
    assert model.confidences(empty).tolist() == [1.0]


def test_a_class_with_one_example_is_learned() -> None:
    matrix, labels = _blobs(3, 8)
    single = sp.csr_matrix(np.eye(1, matrix.shape[1], 21))
    model = train_linear_model(sp.vstack([matrix, single]).tocsr(), [*labels, "rare"], LinearSettings())
    assert model.labels[int(model.confidences_many(single).argmax())] == "rare"


def test_an_empty_row_scores_the_bias() -> None:
    matrix, labels = _blobs(3, 5)
    model = train_linear_model(matrix, labels, LinearSettings())
    empty = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))
    assert np.allclose(model.scores(empty), model.bias)


def test_same_seed_same_model_and_temperature() -> None:
    matrix, labels = _blobs(5, 12)
    first = train_linear_model(matrix, labels, LinearSettings(seed=3))
    second = train_linear_model(matrix, labels, LinearSettings(seed=3))
    assert np.array_equal(first.weights, second.weights)
    assert first.temperature == second.temperature


def test_temperature_makes_confidences_calibrated_on_noisy_data() -> None:
    rng = np.random.default_rng(1)
    labels = [f"c{i % 3}" for i in range(600)]
    dense = rng.random((600, 30)) * 0.5
    for row, label in enumerate(labels):
        dense[row, int(label[1])] += 0.6
    model = train_linear_model(sp.csr_matrix(dense), labels, LinearSettings())
    confidences = model.confidences_many(sp.csr_matrix(dense))
    accuracy = float(np.mean([model.labels[i] == y for i, y in zip(confidences.argmax(axis=1), labels, strict=True)]))
    assert abs(float(confidences.max(axis=1).mean()) - accuracy) < 0.1


def test_softmax() -> None:
    assert softmax(np.array([0.0, 0.0])).tolist() == [0.5, 0.5]
    assert np.allclose(softmax(np.array([[1000.0, 0.0]])), [[1.0, 0.0]])

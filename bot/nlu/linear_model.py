"""A linear classifier over sparse rows: trained with scikit-learn, applied with numpy, calibrated.

Why this model. Measured on CLINC150 (train 15,000; val / test in-scope accuracy without fallback; fit time on
the shared 2-core machine, so only roughly comparable), word 1-2 + char_wb 2-5 TF-IDF features:
  LinearSVC (squared hinge, C=1)                 93.3 / 92.9, ~11 s  (with this module's featurizer: 93.4 / 93.2)
  LogisticRegression (lbfgs, multinomial, C=10)  92.5 / 92.5, ~55 s
  SGDClassifier (modified Huber)                 90.7 / 90.7, ~50 s
  LinearSVC Crammer-Singer                       92.8 / 92.4, ~30 s
  an MLP (sklearn, 256 hidden units, 12 epochs)  92.9 / 92.4, ~4 min
  RBF-kernel SVC                                 92.2 / 92.2, ~4 min
  LinearSVC blended with kNN or LR scores, trained on word-dropout copies, or with Brown-cluster / lemma
  features (spacy-lookups-data): within 0.2 points of LinearSVC alone
C in 0.5..2, word 1-3, char_wb 1-6, other block weights: within 0.2 points (val), none better. The default is
LinearSVC; LogisticRegression is available as `LogisticRegressionClassifier`.
Measured again on a featurizer variant with square-root IDF and unknown words in the norm, since left out (see
`bot.nlu.featurizers`; test in-scope accuracy with the val-chosen fallback threshold / out-of-scope recall /
HWU64 fold 1 without fallback; LinearSVC C=1 gave 92.87 / 51.8 / 89.13 there): Crammer-Singer C=1 93.13 / 50.8 / 89.50
(~9 s a fit against ~6 s); C=2 92.89 / 58.7 / 88.94; Crammer-Singer C=1 and C=2 averaged 93.36 / 52.6 / 89.68
(~23 s); word-only and char-only models averaged, hinge loss, cross-word character n-grams: no better. The
in-scope accuracy at the threshold catching exactly half the test out-of-scope queries never passed 93.4 for
any of about 1,000 combinations of these models. NB-SVM (Wang & Manning 2012: each one-vs-rest SVM on the
features scaled by the class's naive-Bayes log-count ratio), 36 settings: 88.1-91.7 % raw test accuracy (this
model 93.24 %), HWU64 under 89 %, and worse in every blend with this model; with 150 classes the ratio favours
the words a class never uses. An extra training example per intent made of its name's words: +0.05 points.
Out-of-scope scores other than the top softmax confidence, with the threshold chosen on val as always (test
in-scope accuracy / OOS recall; the softmax gives 92.56 / 46.7): the top raw margin 92.64 / 46.1; a "none"
class at a fixed margin c in -1..0.25 inside the softmax 92.53-92.69 / 44.9-48.9; the top-two gap, alone or
plus the top margin, at most 92.69 / 45.7; the confidence times the share of the message's words seen in
training (to the power 0.5-2) 92.36-92.71 / 46.3-57.1. Recall can be bought; in-scope accuracy cannot, since
it is capped by the 93.24 % the classifier reaches with no fallback at all.
Bag-of-n-gram linear models
top out near 93 % here; the misses need knowledge of words the training data never shows ("how can I *up*
my credit score" is improve_credit_score), which only a pretrained model brings (`bot.nlu.dense`).

An SVM's scores are margins, not probabilities. Confidences are `softmax(scores / T)` with the temperature T
fitted (maximum likelihood) on examples the model did not see while training: five-fold cross-validation for
small data sets, one stratified 20 % hold-out for large ones (fitted while a second process trains the final
model on everything). With few held-out examples the estimate is noisy, so it is shrunk towards a typical
temperature (a prior worth 50 examples). Out-of-scope detection works on these confidences (FallbackClassifier).

Parsing applies the model as `values @ W[indices] + b` on the message's sparse row: scikit-learn's
per-call overhead (input validation, sparse matrix construction) would cost more than the whole parse.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from mypy_extensions import mypyc_attr

from bot.nlu.featurizers import SparseRow

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["LinearModel", "LinearSettings", "softmax", "train_linear_model"]

_SMALL_DATA = 3000
"""Up to this many examples the temperature comes from 5-fold cross-validation, above from a 20 % hold-out."""
_FOLDS = 5
_HOLDOUT_FRACTION = 0.2
_CALIBRATION_PASSES = 5
"""The hold-out model of a large data set stops after this many passes of liblinear's solver: the fitted
temperature hardly depends on full convergence (CLINC150: 0.1229 after 5 passes and at convergence), and the
hold-out fit then costs half as much as the final one."""
_SVM_TOLERANCE = 1e-3
"""liblinear's stopping tolerance: scikit-learn's default (1e-4) costs ~30 % more passes on CLINC150 for the
same test accuracy (93.24 %); liblinear's own default is 0.1."""
_TEMPERATURE_RANGE = (0.01, 20.0)
_PRIOR_TEMPERATURE = {"svm": 0.15, "logistic": 1.0}
"""Typical fitted temperatures (CLINC150, HWU64); a small data set's estimate is pulled towards these."""
_PRIOR_WEIGHT = 50
"""How many held-out examples the prior counts as: with 8 held-out examples the fit barely moves it, with
3,000 the prior is negligible."""


@mypyc_attr(native_class=False)  # pickled to the training worker: a compiled frozen dataclass does not unpickle
@dataclass(frozen=True)
class LinearSettings:
    algorithm: str = "svm"
    C: float = 1.0
    max_iter: int = 2000
    class_weight_balanced: bool = False
    seed: int = 0


@dataclass
class LinearModel:
    """Scores = row · weights + bias; confidences = softmax(scores / temperature)."""

    labels: list[str]
    weights: npt.NDArray[np.float32]
    """(features, labels): the transposed coefficient matrix, so one message gathers only its rows."""
    bias: npt.NDArray[np.float32]
    temperature: float

    def scores(self, row: SparseRow) -> npt.NDArray[np.float32]:
        indices, values = row
        if len(indices) == 0:
            return self.bias.copy()
        result: npt.NDArray[np.float32] = values @ self.weights[indices] + self.bias
        return result

    def confidences(self, row: SparseRow) -> npt.NDArray[np.float64]:
        return softmax(self.scores(row).astype(np.float64) / self.temperature)

    def confidences_many(self, matrix: sp.csr_matrix) -> npt.NDArray[np.float64]:
        scores = np.asarray(matrix @ self.weights, dtype=np.float64) + self.bias
        return softmax(scores / self.temperature)

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {"weights": self.weights, "bias": self.bias}

    def description(self) -> dict[str, Any]:
        return {"labels": self.labels, "temperature": self.temperature}


def softmax(scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Row-wise softmax of a 1-D or 2-D array."""
    shifted = scores - scores.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    result: npt.NDArray[np.float64] = exp / exp.sum(axis=-1, keepdims=True)
    return result


def train_linear_model(matrix: sp.csr_matrix, labels: list[str], settings: LinearSettings) -> LinearModel:
    """Fit on all rows, and fit the temperature on held-out predictions of models trained on the rest."""
    names = sorted(set(labels))
    if len(names) == 1:
        return LinearModel(
            names, np.zeros((matrix.shape[1], 1), dtype=np.float32), np.zeros(1, dtype=np.float32), 1.0
        )
    index = {name: i for i, name in enumerate(names)}
    y = np.array([index[label] for label in labels], dtype=np.int64)
    folds = _calibration_folds(y, settings.seed)
    with _final_fit(matrix, y, settings) as final:
        held_out_scores = np.zeros((len(y), len(names)), dtype=np.float64)
        held_out = np.zeros(len(y), dtype=bool)
        calibration = settings
        if len(folds) == 1 and settings.algorithm == "svm":
            calibration = replace(settings, max_iter=_CALIBRATION_PASSES)
        for train_rows, test_rows in folds:
            weights, bias, seen = _fit(matrix[train_rows], y[train_rows], calibration)
            scores = np.full((len(test_rows), len(names)), -1e3)
            scores[:, seen] = np.asarray(matrix[test_rows] @ weights) + bias
            held_out_scores[test_rows] = scores
            held_out[test_rows] = True
        weights, bias, seen = final.result()
    fitted = _fit_temperature(held_out_scores[held_out], y[held_out])
    count = int(held_out.sum())
    prior = math.log(_PRIOR_TEMPERATURE[settings.algorithm])
    temperature = math.exp((count * math.log(fitted) + _PRIOR_WEIGHT * prior) / (count + _PRIOR_WEIGHT))
    full_weights = np.zeros((matrix.shape[1], len(names)), dtype=np.float32)
    full_bias = np.full(len(names), -1e3, dtype=np.float32)
    full_weights[:, seen] = weights
    full_bias[seen] = bias
    return LinearModel(names, full_weights, full_bias, temperature)


_Fitted = tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.int64]]


@contextmanager
def _final_fit(matrix: sp.csr_matrix, y: npt.NDArray[np.int64], settings: LinearSettings) -> Iterator[Future[_Fitted]]:
    """The fit on all rows, started beside the calibration fits: in a forked process for large data sets
    (two cores, two fits), else right here. Not a thread: scikit-learn's liblinear draws from one global
    random generator, so two fits in threads of one process would not be reproducible."""
    if matrix.shape[0] > _SMALL_DATA and "fork" in multiprocessing.get_all_start_methods():
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
            yield pool.submit(_fit, matrix, y, settings)
        return
    done: Future[_Fitted] = Future()
    done.set_result(_fit(matrix, y, settings))
    yield done


def _fit(
    matrix: sp.csr_matrix, y: npt.NDArray[np.int64], settings: LinearSettings
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """(weights (features × classes seen), bias, the class indices seen) of one fit."""
    seen = np.unique(y)
    if len(seen) == 1:
        return (
            np.zeros((matrix.shape[1], 1), dtype=np.float32),
            np.zeros(1, dtype=np.float32),
            seen,
        )
    class_weight = "balanced" if settings.class_weight_balanced else None
    if settings.algorithm == "logistic":
        from sklearn.linear_model import LogisticRegression

        model: Any = LogisticRegression(
            C=settings.C, max_iter=settings.max_iter, class_weight=class_weight, random_state=settings.seed
        )
    else:
        from sklearn.svm import LinearSVC

        model = LinearSVC(
            C=settings.C,
            tol=_SVM_TOLERANCE,
            max_iter=settings.max_iter,
            class_weight=class_weight,
            random_state=settings.seed,
        )
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(matrix, y)
    coef = np.asarray(model.coef_, dtype=np.float32)
    intercept = np.asarray(model.intercept_, dtype=np.float32)
    if len(seen) == 2:
        # scikit-learn keeps one row for two classes: the score of the second; the first gets its negative.
        coef = np.vstack([-coef, coef])
        intercept = np.concatenate([-intercept, intercept])
    return np.ascontiguousarray(coef.T), intercept, seen


def _calibration_folds(
    y: npt.NDArray[np.int64], seed: int
) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """Stratified folds; an example of a class with one example is never held out (nothing to learn it from)."""
    rng = np.random.default_rng(seed)
    fold_of = np.full(len(y), -1, dtype=np.int64)
    small = len(y) <= _SMALL_DATA
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        if len(rows) < 2:
            continue
        rows = rng.permutation(rows)
        if small:
            fold_of[rows] = np.arange(len(rows)) % _FOLDS
        else:
            fold_of[rows[: max(1, round(len(rows) * _HOLDOUT_FRACTION))]] = 0
    folds = []
    for fold in range(_FOLDS if small else 1):
        test_rows = np.flatnonzero(fold_of == fold)
        if len(test_rows):
            folds.append((np.flatnonzero(fold_of != fold), test_rows))
    return folds


def _fit_temperature(scores: npt.NDArray[np.float64], y: npt.NDArray[np.int64]) -> float:
    from scipy.optimize import minimize_scalar  # ~0.5 s to import: only training needs it

    if len(y) == 0:
        return 1.0

    def loss(log_t: float) -> float:
        z = scores / math.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(log_norm - z[np.arange(len(y)), y]))

    low, high = (math.log(t) for t in _TEMPERATURE_RANGE)
    result = minimize_scalar(loss, bounds=(low, high), method="bounded")
    return float(math.exp(result.x))

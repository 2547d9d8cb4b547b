"""The PNG charts of an evaluation: confusion matrices and the confidence histogram, drawn like Rasa's.

Figures are built with matplotlib's object API and rendered by its Agg rasteriser, never through pyplot, so
no global figure state or GUI backend is involved and plotting is safe from any thread.

Rasa draws every confusion matrix 20x20 inches with a number in every cell, which is unreadable at 150
intents and sparse at 7. Here the cell size, the fonts and what is written in the cells follow the number of
labels: all counts for small matrices, only the non-zero counts once the matrix is large.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from bot.files import write_atomically

__all__ = ["plot_confidence_histogram", "plot_confusion_matrix"]

DPI = 100
HIT_COLOUR = "#009292"
MISS_COLOUR = "#920000"
NO_LABEL = "(none)"


def _save(figure: Figure, path: Path) -> None:
    write_atomically(
        path, lambda temporary: figure.savefig(temporary, format="png", dpi=DPI, bbox_inches="tight")
    )


def _matrix_layout(size: int) -> tuple[float, float, bool]:
    """(cell size in inches, font size in points, whether zero cells get a number) for `size` labels."""
    if size <= 12:
        return 0.75, 11.0, True
    if size <= 40:
        return 0.4, 8.0, True
    return 0.22, 6.0, False


def _count_ticks(highest: int) -> list[int]:
    """1, 2, 5, 10, 20, 50, ... up to `highest`: whole counts for the logarithmic colour bar."""
    ticks: list[int] = []
    decade = 1
    while decade <= highest:
        ticks.extend(tick for tick in (decade, 2 * decade, 5 * decade) if tick <= highest)
        decade *= 10
    return ticks


def plot_confusion_matrix(
    matrix: npt.NDArray[np.int64], labels: Sequence[str], title: str, path: Path
) -> None:
    """Rows are the true labels, columns the predicted ones; a logarithmic blue scale, zero cells blank."""
    size = len(labels)
    cell, font_size, number_zeros = _matrix_layout(size)
    side = max(size * cell, 3.0)
    figure = Figure(figsize=(side + 1.5, side))
    axes = figure.add_axes((0.0, 0.0, side / (side + 1.5), 1.0))
    highest = int(matrix.max()) if matrix.size else 0
    # The scale starts below 1 so that a single confusion shows as a visible tint, not as white.
    norm = LogNorm(vmin=0.5, vmax=max(highest, 2))
    image = axes.imshow(
        np.ma.masked_equal(matrix, 0), cmap="Blues", norm=norm, interpolation="nearest", aspect="equal"
    )
    colorbar = figure.colorbar(image, ax=axes, fraction=0.04, pad=0.02, shrink=min(1.0, 8.0 / side))
    colorbar.minorticks_off()
    ticks = _count_ticks(max(highest, 2))
    colorbar.set_ticks(ticks, labels=[str(tick) for tick in ticks])
    if size > 12:
        # Faint cell borders let the eye follow a row or a column across a large matrix.
        axes.set_xticks(np.arange(size + 1) - 0.5, minor=True)
        axes.set_yticks(np.arange(size + 1) - 0.5, minor=True)
        axes.grid(which="minor", color="#e4e7ec", linewidth=0.5)
        axes.tick_params(which="minor", length=0)
    shown = [label if label else NO_LABEL for label in labels]
    positions = np.arange(size)
    axes.set_xticks(positions, shown, rotation=90, fontsize=font_size)
    axes.set_yticks(positions, shown, fontsize=font_size)
    axes.set_xlabel("Predicted label", fontsize=font_size + 2)
    axes.set_ylabel("True label", fontsize=font_size + 2)
    axes.set_title(title, fontsize=font_size + 4, pad=12)
    for row, column in zip(*np.nonzero(matrix if not number_zeros else np.ones_like(matrix)), strict=True):
        count = int(matrix[row, column])
        dark_cell = count > 0 and float(norm(count)) > 0.6
        axes.text(
            column,
            row,
            str(count),
            ha="center",
            va="center",
            fontsize=font_size - (1 if size > 40 else 0),
            color="white" if dark_cell else ("black" if count else "#b0b0b0"),
        )
    _save(figure, path)


def plot_confidence_histogram(hits: Sequence[float], misses: Sequence[float], title: str, path: Path) -> None:
    """Rasa's side-by-side histogram: confidences of correct predictions left, of wrong ones right."""
    bins = np.linspace(0.0, 1.0, 21)
    hit_counts = np.histogram(np.clip(hits, 0.0, 1.0), bins=bins)[0]
    miss_counts = np.histogram(np.clip(misses, 0.0, 1.0), bins=bins)[0]
    widest = max(int(hit_counts.max()), int(miss_counts.max()), 1)
    limit = widest + max(1, int(0.25 * widest))
    centres = (bins[:-1] + bins[1:]) / 2
    height = 0.75 * (bins[1] - bins[0])

    figure = Figure(figsize=(10, 8))
    correct, wrong = figure.subplots(ncols=2, sharey=True)
    correct.barh(centres, hit_counts, height=height, color=HIT_COLOUR, label="hits")
    wrong.barh(centres, miss_counts, height=height, color=MISS_COLOUR, label="misses")
    correct.set(title=f"Correct ({len(hits)})", xlim=(0, limit), yticks=bins, ylim=(0.0, 1.0))
    wrong.set(title=f"Wrong ({len(misses)})", xlim=(0, limit), yticks=bins, ylim=(0.0, 1.0))
    correct.invert_xaxis()
    correct.yaxis.tick_right()
    figure.subplots_adjust(wspace=0.14)
    figure.suptitle(title, fontsize="x-large", fontweight="bold")
    figure.supxlabel("Number of Samples")
    figure.supylabel("Confidence")
    _save(figure, path)

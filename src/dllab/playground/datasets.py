"""The TensorFlow Playground's 2-D data sets, drawn from the same distributions with the same label rules and
point counts (500 for classification, 1,200 for regression), plus multi-class sets and points from a CSV file.

Every generator takes ``(n, noise, rng)`` with ``noise`` in [0, 0.5] (the page's 0-50 divided by 100) and returns
``x`` (n, 2) float64 and ``y`` (n,): labels -1/+1 for the binary sets, class ids 0..K-1 for the multi-class sets,
real values in [-1, 1] for regression. Vectorised: no loop over points.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from dllab.errors import DataError

N_CLASSIFY, N_REGRESS = 500, 1200


def circle(n: int, noise: float, rng: np.random.Generator):
    """Half the points inside radius 2.5 (label +1), half in the ring 3.5-5; labels from the noisy position."""
    radius = 5.0
    half = n // 2
    r = np.concatenate([rng.uniform(0, radius * 0.5, half), rng.uniform(radius * 0.7, radius, n - half)])
    angle = rng.uniform(0, 2 * np.pi, n)
    x = np.c_[r * np.sin(angle), r * np.cos(angle)]
    shifted = x + rng.uniform(-radius, radius, (n, 2)) * noise
    y = np.where(np.hypot(shifted[:, 0], shifted[:, 1]) < radius * 0.5, 1.0, -1.0)
    return x, y


def xor(n: int, noise: float, rng: np.random.Generator):
    """Uniform on [-5, 5]^2 pushed 0.3 away from the axes; label +1 where x1 * x2 >= 0 (of the noisy point)."""
    x = rng.uniform(-5, 5, (n, 2))
    x += np.where(x > 0, 0.3, -0.3)
    shifted = x + rng.uniform(-5, 5, (n, 2)) * noise
    return x, np.where(shifted[:, 0] * shifted[:, 1] >= 0, 1.0, -1.0)


def _gauss_variance(noise: float) -> float:
    return 0.5 + (4.0 - 0.5) * noise / 0.5  # noise 0 -> variance 0.5, noise 0.5 -> 4


def gauss(n: int, noise: float, rng: np.random.Generator):
    """Two Gaussians at (2, 2) (label +1) and (-2, -2) (label -1), variance 0.5-4 growing with the noise."""
    half = n // 2
    std = np.sqrt(_gauss_variance(noise))
    x = np.r_[rng.normal(2, std, (half, 2)), rng.normal(-2, std, (n - half, 2))]
    return x, np.r_[np.ones(half), -np.ones(n - half)]


def spiral(n: int, noise: float, rng: np.random.Generator):
    """Two interleaved spirals, r = 5 i / (n/2), angle 1.75 * 2 pi i / (n/2) (+ pi for label -1)."""
    half = n // 2
    i = np.arange(half)
    r = i / half * 5
    t = 1.75 * i / half * 2 * np.pi
    pts = [np.c_[r * np.sin(t + d), r * np.cos(t + d)] + rng.uniform(-1, 1, (half, 2)) * noise for d in (0, np.pi)]
    return np.r_[pts[0], pts[1]], np.r_[np.ones(half), -np.ones(half)]


def plane(n: int, noise: float, rng: np.random.Generator):
    """Regression: uniform on [-6, 6]^2; label (x1 + x2) / 10 of the noisy point."""
    x = rng.uniform(-6, 6, (n, 2))
    shifted = x + rng.uniform(-6, 6, (n, 2)) * noise
    return x, (shifted[:, 0] + shifted[:, 1]) / 10


GAUSSIANS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]])


def multi_gaussian(n: int, noise: float, rng: np.random.Generator):
    """Regression: six signed bumps; the label is the bump value largest in magnitude, sign * max(1 - d/2, 0)."""
    x = rng.uniform(-6, 6, (n, 2))
    shifted = x + rng.uniform(-6, 6, (n, 2)) * noise
    d = np.hypot(shifted[:, None, 0] - GAUSSIANS[:, 0], shifted[:, None, 1] - GAUSSIANS[:, 1])
    values = GAUSSIANS[:, 2] * np.clip(1 - d / 2, 0, 1)
    return x, values[np.arange(n), np.abs(values).argmax(1)]


def blobs(n: int, noise: float, rng: np.random.Generator):
    """Four classes: one Gaussian per quadrant, centres (+-2.5, +-2.5), variance as in ``gauss``."""
    centres = np.array([[2.5, 2.5], [-2.5, 2.5], [-2.5, -2.5], [2.5, -2.5]])
    y = np.arange(n) % 4
    return rng.normal(centres[y], np.sqrt(_gauss_variance(noise))), y.astype(np.int64)


def spiral3(n: int, noise: float, rng: np.random.Generator):
    """Three classes: three interleaved spiral arms, 120 degrees apart."""
    k = n // 3
    i = np.arange(k)
    r, t = i / k * 5, 1.75 * i / k * 2 * np.pi
    arms = [np.c_[r * np.sin(t + d), r * np.cos(t + d)] + rng.uniform(-1, 1, (k, 2)) * noise
            for d in (0, 2 * np.pi / 3, 4 * np.pi / 3)]
    return np.concatenate(arms), np.repeat(np.arange(3), k)


# name -> (generator, problem, number of classes (1: binary +-1 labels; 0: regression), points)
DATASETS = {
    "circle": (circle, "classification", 1, N_CLASSIFY),
    "xor": (xor, "classification", 1, N_CLASSIFY),
    "gauss": (gauss, "classification", 1, N_CLASSIFY),
    "spiral": (spiral, "classification", 1, N_CLASSIFY),
    "plane": (plane, "regression", 0, N_REGRESS),
    "multi-gaussian": (multi_gaussian, "regression", 0, N_REGRESS),
    "blobs": (blobs, "classification", 4, N_CLASSIFY),
    "spiral3": (spiral3, "classification", 3, N_CLASSIFY + 1),
}


def parse_csv(text: str, max_points: int = 20_000):
    """Points from CSV text: columns x1, x2, label (a header row is optional).

    Labels -1/+1 give a binary problem, integers 0..K-1 a K-class one, other numbers a regression. Returns
    (x, y, problem, classes) or raises DataError with the line at fault.
    """
    try:
        rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    except csv.Error as exc:  # a field longer than the csv module's limit, a NUL byte, ...
        raise DataError(f"the CSV cannot be read ({exc}); give rows of x1,x2,label") from None
    if rows and not _is_number(rows[0][0]):
        rows = rows[1:]  # a header
    if not rows:
        raise DataError("the CSV holds no points: give rows of x1,x2,label")
    if len(rows) > max_points:
        raise DataError(f"the CSV holds {len(rows)} points; at most {max_points} are accepted")
    values = []
    for i, row in enumerate(rows, 1):
        if len(row) != 3 or not all(_is_number(c) for c in row):
            raise DataError(f"CSV row {i} is {','.join(row)[:60]!r}: expected three numbers x1,x2,label")
        values.append([float(c) for c in row])
    arr = np.array(values)
    if not np.isfinite(arr).all():
        raise DataError("the CSV holds a value that is not finite (inf or nan)")
    x, y = arr[:, :2], arr[:, 2]
    labels = set(np.unique(y).tolist())
    if labels == {-1.0, 1.0}:
        return x, y, "classification", 1
    if labels == {0.0, 1.0}:  # class ids 0/1: the binary problem with labels -1/+1
        return x, np.where(y == 1, 1.0, -1.0), "classification", 1
    if np.all(y == np.round(y)) and y.min() == 0 and 2 <= y.max() <= 9:
        return x, y.astype(np.int64), "classification", int(y.max()) + 1
    return x, y, "regression", 0


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True

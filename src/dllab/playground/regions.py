"""Linear regions of a ReLU network over [-6, 6]^2.

A network whose input features are linear in (x1, x2) and whose hidden activations are ReLU or linear is
piecewise linear; its linear regions are the sets of points sharing one ReLU on/off pattern (each is convex, as
the network is one affine map on it). They are counted exactly at any depth by splitting convex polygons: start
from the square with the input map; at each ReLU layer every polygon is cut by each neuron's line (where that
neuron's pre-activation, affine on the polygon, changes sign inside it), and each piece carries the affine map
of the next layer's input with its off neurons zeroed. The pieces left after the last hidden layer are the
regions. With one hidden layer this is the arrangement of the neurons' lines (``_one_layer_exact`` counts it by
its crossings). A network whose pieces would exceed a work budget (deep and wide) is counted on a fine grid
instead (``GRID`` x ``GRID`` points: the distinct patterns seen, so regions thinner than a cell, 12 / GRID, can
be missed; the method is reported). Undefined (None, shown "n/a") for tanh/sigmoid layers
or non-linear input features.
"""

from __future__ import annotations

import numpy as np

GRID = 800
LO, HI = -6.0, 6.0


def defined(features: list[str], activations: list[str]) -> bool:
    return set(features) <= {"x1", "x2"} and all(a in ("relu", "linear") for a in activations)


def count_regions(W: list[np.ndarray], b: list[np.ndarray], features: list[str], activations: list[str],
                  grid: int = GRID, work: int | None = None) -> dict | None:
    """{"regions": n, "method": "exact" | "grid 800x800"} for the hidden layers (W[l], b[l]), or None."""
    if not defined(features, activations):
        return None
    A, c = _input_map(features)
    hidden = [(Wl, bl, act) for Wl, bl, act in zip(W[:-1], b[:-1], activations)]
    relu = [(Wl, bl) for Wl, bl, act in hidden if act == "relu"]
    if not relu:
        return {"regions": 1, "method": "exact"}
    if len(hidden) == 1:
        Wl, bl = relu[0]
        return {"regions": _one_layer_exact(A.T @ Wl, c @ Wl + bl), "method": "exact"}
    cells = exact_cells(hidden, A, c, WORK if work is None else work)
    if cells is not None:
        return {"regions": len(cells), "method": "exact"}
    return {"regions": _grid_count(hidden, A, c, grid), "method": f"grid {grid}x{grid}"}


SQUARE = np.array([[LO, LO], [HI, LO], [HI, HI], [LO, HI]])
WORK = 30_000  # polygon x neuron sign tests (about 0.3 s) before the exact count gives way to the grid


def exact_cells(hidden, A: np.ndarray, c: np.ndarray, work: int = WORK) -> list[tuple[np.ndarray, tuple]] | None:
    """The linear regions as (convex polygon (k, 2), ReLU pattern) pairs: the square split neuron by neuron,
    layer by layer (``hidden``: (W, b, activation) per hidden layer; the input features are ``x @ A + c``).
    None when more than ``work`` polygon x neuron tests would be needed."""
    cells = [(SQUARE, (), A.astype(float), np.asarray(c, float))]  # polygon, pattern, the layer's input map
    for Wl, bl, act in hidden:
        out = []
        for poly, pattern, M, v in cells:
            Mz, vz = M @ Wl, v @ Wl + bl  # pre-activations z(x) = x @ Mz + vz on this polygon
            if act != "relu":
                out.append((poly, pattern, Mz, vz))
                continue
            parts = [(poly, ())]
            for j in range(Wl.shape[1]):
                work -= len(parts)
                if work < 0:
                    return None
                nxt = []
                for piece, bits in parts:
                    s = piece @ Mz[:, j] + vz[j]
                    s[np.abs(s) <= 1e-10 * max(1.0, float(np.abs(s).max()))] = 0.0
                    if s.max() <= 0 or s.min() >= 0:  # the line misses this piece (or only touches it)
                        nxt.append((piece, (*bits, bool(s.max() > 0))))
                        continue
                    above, below = _split(piece, s)
                    nxt += [(q, (*bits, on)) for q, on in ((above, True), (below, False)) if _area(q) > 1e-12]
                parts = nxt
            for piece, bits in parts:
                on = np.array(bits)
                out.append((piece, (*pattern, *bits), Mz * on, vz * on))
        cells = out
    return [(poly, pattern) for poly, pattern, _, _ in cells]


def _split(poly: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A convex polygon's parts where ``s`` (affine, its values at the vertices) is >= 0 and <= 0."""
    above, below = [], []
    n = len(poly)
    for i in range(n):
        p, q, sp, sq = poly[i], poly[(i + 1) % n], s[i], s[(i + 1) % n]
        if sp >= 0:
            above.append(p)
        if sp <= 0:
            below.append(p)
        if sp * sq < 0:
            x = p + sp / (sp - sq) * (q - p)
            above.append(x)
            below.append(x)
    return np.array(above), np.array(below)


def _area(poly: np.ndarray) -> float:
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(x @ np.roll(y, -1) - y @ np.roll(x, -1)))


def _input_map(features: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """features = x @ A + c for x = (x1, x2): A (2, n_features)."""
    A = np.zeros((2, len(features)))
    for j, f in enumerate(features):
        A[0 if f == "x1" else 1, j] = 1.0
    return A, np.zeros(len(features))


def _one_layer_exact(Wp: np.ndarray, bp: np.ndarray) -> int:
    """Regions of the arrangement of the lines w_j . x + b_j = 0 (w_j = Wp[:, j]) inside the square."""
    lines = [(Wp[:, j], bp[j]) for j in range(Wp.shape[1]) if np.any(Wp[:, j] != 0)]
    crossing = [(w, c) for w, c in lines if _crosses_square(w, c)]
    # identical lines (the same hyperplane twice) cut the plane once
    unique = []
    for w, c in crossing:
        v = np.r_[w, c] / np.linalg.norm(np.r_[w, c])
        if not any(np.allclose(v, u) or np.allclose(v, -u) for u in unique):
            unique.append(v)
    # each crossing point inside the square adds (lines through it - 1) regions; 1 in general position
    found: list[tuple[np.ndarray, set[int]]] = []
    for i in range(len(unique)):
        for j in range(i + 1, len(unique)):
            M = np.array([unique[i][:2], unique[j][:2]])
            if abs(np.linalg.det(M)) < 1e-12:
                continue  # parallel
            p = np.linalg.solve(M, -np.array([unique[i][2], unique[j][2]]))
            if not np.all((p > LO) & (p < HI)):
                continue
            for q, members in found:
                if np.allclose(p, q, atol=1e-9):
                    members |= {i, j}
                    break
            else:
                found.append((p, {i, j}))
    return 1 + len(unique) + sum(len(members) - 1 for _, members in found)


def _crosses_square(w: np.ndarray, c: float) -> bool:
    corners = np.array([[LO, LO], [LO, HI], [HI, LO], [HI, HI]])
    s = corners @ w + c
    return bool(s.min() < 0 < s.max())


def grid_patterns(hidden, A: np.ndarray, c: np.ndarray, grid: int = GRID) -> np.ndarray:
    """The ReLU pattern (one column per ReLU neuron, layer by layer) at each point of a grid x grid lattice."""
    xs = np.linspace(LO, HI, grid)
    gx, gy = np.meshgrid(xs, xs)
    h = np.c_[gx.ravel(), gy.ravel()] @ A + c
    bits = []
    for Wl, bl, act in hidden:
        z = h @ Wl + bl
        if act == "relu":
            bits.append(z > 0)
            h = np.maximum(z, 0)
        else:
            h = z
    return np.concatenate(bits, axis=1) if bits else np.zeros((len(h), 0), bool)


def _grid_count(hidden, A, c, grid: int) -> int:
    """The distinct patterns on the grid: each pattern's region is convex (the network is one affine map there,
    so its conditions are linear inequalities), hence one region per pattern seen. Patterns are compared by a
    64-bit hash (FNV-style, one step per neuron; a collision needs two patterns among a few hundred thousand)."""
    bits = grid_patterns(hidden, A, c, grid)
    code = np.full(len(bits), np.uint64(14695981039346656037))
    mult = np.uint64(1099511628211)
    for j in range(bits.shape[1]):
        code = (code ^ (bits[:, j].astype(np.uint64) + np.uint64(2 * j + 1))) * mult
    return int(len(np.unique(code)))

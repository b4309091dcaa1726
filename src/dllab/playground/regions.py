"""Linear regions of a ReLU network over [-6, 6]^2.

A network whose input features are linear in (x1, x2) and whose hidden activations are ReLU or linear is
piecewise linear; its linear regions are the connected sets of points sharing one ReLU on/off pattern. With one
hidden layer the count is exact: each neuron's line that crosses the square adds one region, and each crossing
of two such lines inside the square adds one more (lines in general position). Deeper networks are counted on a
fine grid (``GRID`` x ``GRID`` points): the connected components of equal-pattern cells, so regions thinner than
a grid cell (12 / GRID) can be missed. Undefined (None, shown "n/a") for tanh/sigmoid layers or non-linear input
features.
"""

from __future__ import annotations

import numpy as np

GRID = 800
LO, HI = -6.0, 6.0


def defined(features: list[str], activations: list[str]) -> bool:
    return set(features) <= {"x1", "x2"} and all(a in ("relu", "linear") for a in activations)


def count_regions(W: list[np.ndarray], b: list[np.ndarray], features: list[str], activations: list[str],
                  grid: int = GRID) -> dict | None:
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
    return {"regions": _grid_count(hidden, A, c, grid), "method": f"grid {grid}x{grid}"}


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


def _grid_count(hidden, A, c, grid: int) -> int:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    xs = np.linspace(LO, HI, grid)
    gx, gy = np.meshgrid(xs, xs)
    h = np.c_[gx.ravel(), gy.ravel()] @ A + c
    code = np.zeros(len(h), dtype=np.uint64)  # hash of the ReLU pattern
    mult = np.uint64(1099511628211)
    for Wl, bl, act in hidden:
        z = h @ Wl + bl
        if act == "relu":
            for j in range(z.shape[1]):
                code = code * mult + (z[:, j] > 0).astype(np.uint64) + np.uint64(j + 1)
            h = np.maximum(z, 0)
        else:
            h = z
    code = code.reshape(grid, grid)
    idx = np.arange(grid * grid).reshape(grid, grid)
    right = code[:, :-1] == code[:, 1:]
    down = code[:-1, :] == code[1:, :]
    rows = np.r_[idx[:, :-1][right], idx[:-1, :][down]]
    cols = np.r_[idx[:, 1:][right], idx[1:, :][down]]
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(grid * grid, grid * grid))
    n, _ = connected_components(graph, directed=False)
    return int(n)

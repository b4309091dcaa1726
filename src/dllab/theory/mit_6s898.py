"""MIT 6.S898 HW1, questions 1-8: ReLU networks on the line, logic gates, a backprop identity."""

from __future__ import annotations

import numpy as np
import torch

from dllab import courses, plotting
from dllab.theory.base import Result, check, close

HW = courses.MIT_6S898
relu = lambda z: np.maximum(z, 0.0)  # noqa: E731


def breakpoints(layers: list[tuple[np.ndarray, np.ndarray]], lo: float = -np.inf, hi: float = np.inf,
                tol: float = 1e-9) -> np.ndarray:
    """Exact kinks in (lo, hi) of a scalar ReLU network R -> R given as [(W, b), ...] (ReLU after all but the last).

    On each interval between known breakpoints every pre-activation is affine, s x + c, so a neuron adds a
    breakpoint only where its own affine piece crosses zero inside the interval. The candidates are then kept
    where the output's slope really changes.
    """
    cuts = np.array([])
    s, c = layers[0][0][:, 0].astype(float), layers[0][1].astype(float)  # layer 1 pre-activation: one piece
    pieces = [(s, c)]
    for W, b in layers[1:]:
        edges = np.r_[lo, cuts, hi]
        new_cuts, new_pieces = [], []
        for (s_i, c_i), a, z in zip(pieces, edges[:-1], edges[1:]):
            with np.errstate(divide="ignore", invalid="ignore"):
                roots = -c_i / s_i
            inside = np.sort(np.unique(roots[(s_i != 0) & (roots > a + tol) & (roots < z - tol)]))
            bounds = np.r_[a, inside, z]
            for u, v in zip(bounds[:-1], bounds[1:]):
                mid = (u + v) / 2 if np.isfinite(u) and np.isfinite(v) else (v - 1 if np.isfinite(v) else (
                    u + 1 if np.isfinite(u) else 0.0))
                active = (s_i * mid + c_i) > 0
                new_pieces.append((W @ (s_i * active), W @ (c_i * active) + b))
            new_cuts.extend(inside)
            new_cuts.append(z)
        cuts = np.array(new_cuts[:-1])
        pieces = new_pieces
    slopes = np.array([p[0][0] for p in pieces])
    change = np.abs(np.diff(slopes)) > tol * max(1.0, float(np.max(np.abs(slopes))))
    return cuts[change]


def random_net(rng, width: int, hidden_layers: int, bias: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
    sizes = [1] + [width] * hidden_layers + [1]
    return [(rng.standard_normal((b, a)) / np.sqrt(a), rng.standard_normal(b) * bias) for a, b in zip(sizes[:-1],
                                                                                                      sizes[1:])]


def evaluate(layers, x: np.ndarray) -> np.ndarray:
    h = x[None, :]
    for i, (W, b) in enumerate(layers):
        h = W @ h + b[:, None]
        if i < len(layers) - 1:
            h = relu(h)
    return h[0]


def second_differences(f: np.ndarray) -> np.ndarray:
    return f[2:] - 2 * f[1:-1] + f[:-2]


def neither_convex_nor_concave(f: np.ndarray, tol: float = 1e-9) -> bool:
    d2 = second_differences(f)
    return bool(d2.max() > tol and d2.min() < -tol)


@check("network_shapes", HW, "Q1-Q2",
       "With W1 in R^(k x 1): W2 in R^(1 x k), b1 in R^k, b2 in R; a 3-layer network is "
       "f(x) = W3 ReLU(W2 ReLU(W1 x + b1) + b2) + b3.")
def network_shapes(rng, k=5):
    net = torch.nn.Sequential(torch.nn.Linear(1, k), torch.nn.ReLU(), torch.nn.Linear(k, 1)).double()
    shapes = {"W1": list(net[0].weight.shape), "b1": list(net[0].bias.shape), "W2": list(net[2].weight.shape),
              "b2": list(net[2].bias.shape)}
    layers = random_net(rng, k, 2)
    x = np.linspace(-3, 3, 7)
    (W1, b1), (W2, b2), (W3, b3) = layers
    by_hand = np.array([(W3 @ relu(W2 @ relu(W1 @ [xi] + b1) + b2) + b3)[0] for xi in x])
    passed = shapes == {"W1": [k, 1], "b1": [k], "W2": [1, k], "b2": [1]} and close(by_hand, evaluate(layers, x), 1e-12)
    return Result(passed, {"shapes": shapes, "k": k},
                  f"torch's Linear(1,{k})/Linear({k},1) give shapes "
                  + ", ".join(f"{name} {'x'.join(map(str, dims))}" for name, dims in shapes.items())
                  + "; the written 3-layer expression equals the "
                  "layer-by-layer evaluation.")


@check("relu_net_not_convex", HW, "Q3",
       "A 2-layer ReLU network's output is in general neither convex nor concave in x.")
def relu_net_not_convex(rng):
    layers = [(np.array([[1.0], [1.0], [1.0]]), np.array([1.0, 0.0, -1.0])), (np.array([[1.0, -2.0, 1.0]]),
                                                                              np.zeros(1))]
    x = np.linspace(-3, 3, 601)
    f = evaluate(layers, x)
    d2 = second_differences(f)
    fig, ax = plotting.subplots(width=6)
    ax.plot(x, f)
    ax.set(title="f(x) = ReLU(x+1) - 2 ReLU(x) + ReLU(x-1)", xlabel="x", ylabel="f(x)")
    return Result(neither_convex_nor_concave(f), {"min_second_difference": float(d2.min()),
                                                  "max_second_difference": float(d2.max())},
                  "Second differences on a grid take both signs (a convex kink at -1 and 1, a concave one at 0).",
                  [("relu_not_convex", fig, "A width-3 network: a 'hat' is neither convex nor concave.")])


def sawtooth(depth: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """depth compositions of the tent map t(x) = 2 ReLU(x) - 4 ReLU(x - 1/2) on [0, 1] (width 2 per layer)."""
    first = (np.array([[1.0], [1.0]]), np.array([0.0, -0.5]))
    mid = (np.array([[2.0, -4.0], [2.0, -4.0]]), np.array([0.0, -0.5]))
    return [first] + [mid] * (depth - 1) + [(np.array([[2.0, -4.0]]), np.zeros(1))]


@check("linear_regions", HW, "Q4",
       "A 1-D ReLU net with l-1 hidden layers of width k has at most (k+1)^(l-1) linear pieces; random nets use far "
       "fewer, while the sawtooth (width 2) reaches 2^depth pieces on [0, 1].")
def linear_regions(rng, widths=(2, 4, 8, 16), depths=(1, 2, 3, 4), nets=10):
    counts = {}
    within = True
    for d in depths:
        for k in widths:
            c = [len(breakpoints(random_net(rng, k, d))) + 1 for _ in range(nets)]
            counts[f"depth{d}_width{k}"] = float(np.mean(c))
            within &= max(c) <= (k + 1) ** d
    # cross-check the exact count with a dense grid on a few nets
    agree = True
    for _ in range(5):
        net = random_net(rng, 6, 2)
        bp = breakpoints(net, -4, 4)
        x = np.linspace(-4, 4, 400_001)
        slope = np.diff(evaluate(net, x)) / np.diff(x)
        idx = np.nonzero(np.abs(np.diff(slope)) > 1e-6)[0]  # a kink shows as 1-2 adjacent slope changes
        clusters = 0 if len(idx) == 0 else 1 + int(np.sum(np.diff(idx) > 2))
        agree &= clusters == len(bp)
    saw = {depth: len(breakpoints(sawtooth(depth), 0.0, 1.0)) + 1 for depth in range(1, 9)}
    fig, axes = plotting.subplots(2)
    for k in widths:
        axes[0].plot(depths, [counts[f"depth{d}_width{k}"] for d in depths], "o-", label=f"width {k}")
    axes[0].set_xticks(list(depths))
    axes[0].set(title=f"Random nets: mean linear pieces ({nets} nets)", xlabel="hidden layers",
                ylabel="linear pieces on R")
    axes[0].legend()
    axes[1].semilogy(list(saw), list(saw.values()), "o-", label="sawtooth (width 2), counted")
    axes[1].semilogy(list(saw), [2 ** depth for depth in saw], "k--", label="2^depth")
    axes[1].semilogy(list(saw), [3 ** depth for depth in saw], ":", color="gray", label="bound (k+1)^depth, k = 2")
    axes[1].set(title="Depth buys exponentially many pieces", xlabel="depth", ylabel="linear pieces on [0, 1]")
    axes[1].legend()
    passed = within and all(saw[depth] == 2 ** depth for depth in saw) and bool(agree)
    return Result(passed, {"mean_pieces": counts, "sawtooth_pieces": saw, "all_within_bound": bool(within)},
                  "Random Gaussian nets: piece counts grow roughly with the number of neurons and stay far below "
                  f"(k+1)^depth; the sawtooth gives exactly 2^depth pieces ({saw[8]} at depth 8, with 16 neurons), "
                  "so deep nets can be exponentially more efficient than shallow ones for such functions "
                  "(a 2-layer net needs 2^depth - 1 neurons for the same function).",
                  [("linear_regions", fig, "Exact counts from the piecewise-linear structure (no grid).")])


@check("tanh_differentiable", HW, "Q4 (tanh)",
       "With tanh instead of ReLU the network is differentiable everywhere: its derivative has no jumps.")
def tanh_differentiable(rng, width=16):
    layers = random_net(rng, width, 2)

    def derivative(act, x):
        xt = torch.tensor(x, requires_grad=True)
        h = xt[None, :]
        for i, (W, b) in enumerate(layers):
            h = torch.tensor(W) @ h + torch.tensor(b)[:, None]
            if i < len(layers) - 1:
                h = act(h)
        h.sum().backward()
        return xt.grad.numpy()

    jumps = {}
    for name, act in (("tanh", torch.tanh), ("relu", torch.relu)):
        jumps[name] = []
        for h in (1e-2, 1e-3, 1e-4):
            x = np.arange(-4, 4, h)
            jumps[name].append(float(np.max(np.abs(np.diff(derivative(act, x))))))
    passed = jumps["tanh"][2] < 1e-3 and jumps["tanh"][2] < 0.02 * jumps["tanh"][0] and \
        jumps["relu"][2] > 0.1 * jumps["relu"][0]
    return Result(passed, {"max_derivative_jump": jumps, "grid_steps": [1e-2, 1e-3, 1e-4]},
                  f"Largest change of f' between neighbouring grid points (steps 1e-2, 1e-3, 1e-4): tanh "
                  f"{', '.join(f'{j:.1e}' for j in jumps['tanh'])} (shrinks with the step: continuous); ReLU "
                  f"{', '.join(f'{j:.1e}' for j in jumps['relu'])} (does not shrink: jumps at kinks).")


@check("width2_no_bias", HW, "Q5",
       "Width-2, no-bias 2-layer ReLU nets: a linear one exists; two non-differentiable points are impossible (all "
       "kinks are at 0); a convex non-linear one exists; neither-convex-nor-concave is impossible.")
def width2_no_bias(rng, trials=5000):
    x = np.linspace(-5, 5, 1001)

    def net(W1, W2):
        return [(np.array(W1, float).reshape(2, 1), np.zeros(2)), (np.array(W2, float).reshape(1, 2), np.zeros(1))]

    linear, convex = net([1, -1], [1, -1]), net([1, -1], [1, 1])
    f_lin, f_abs = evaluate(linear, x), evaluate(convex, x)
    kinks, shapes = set(), {"convex": 0, "concave": 0, "neither": 0}
    for _ in range(trials):
        n = net(rng.standard_normal(2), rng.standard_normal(2))
        kinks.update((np.round(breakpoints(n), 12) + 0.0).tolist())
        f = evaluate(n, x)
        d2 = second_differences(f)
        shape = "convex" if d2.min() >= -1e-9 else "concave"
        shapes["neither" if neither_convex_nor_concave(f, 1e-9) else shape] += 1
    homogeneous = close(evaluate(n, 3 * x), 3 * evaluate(n, x), 1e-9)
    fig, axes = plotting.subplots(2, width=4.5)
    axes[0].plot(x, f_lin)
    axes[0].set(title="(a) W1 = [1, -1]^T, W2 = [1, -1]: f(x) = x", xlabel="x", ylabel="f(x)")
    axes[1].plot(x, f_abs)
    axes[1].set(title="(c) W1 = [1, -1]^T, W2 = [1, 1]: f(x) = |x|", xlabel="x", ylabel="f(x)")
    passed = (close(f_lin, x, 1e-12) and close(f_abs, np.abs(x), 1e-12) and kinks <= {0.0}
              and shapes["neither"] == 0 and homogeneous)
    return Result(passed, {"kink_locations_seen": sorted(kinks), "random_nets": trials, "shapes": shapes},
                  f"Without biases every unit ReLU(w x) bends only at x = 0 and f(c x) = c f(x) for c > 0, so f is "
                  f"linear on each half-line: at most one kink, at 0 ((b) impossible), and f is convex or concave "
                  f"according to whether its right slope exceeds its left ((d) impossible). Over {trials} random "
                  f"nets: kinks seen only at {sorted(kinks)}; {shapes['convex']} convex, {shapes['concave']} concave, "
                  f"{shapes['neither']} neither.",
                  [("width2_no_bias", fig, "The two cases that exist: linear (a) and convex (c).")])


@check("nonconvex_in_parameters", HW, "Q6",
       "The output of a 2-layer network at a fixed input, along a line in parameter space, is neither convex nor "
       "concave.")
def nonconvex_in_parameters(rng):
    t = np.linspace(-1, 2, 601)
    x0 = 1.0
    w1, b1, w2 = t, np.zeros_like(t), 1 - t  # theta(t) = theta0 + t * delta, theta0 = (0, 0, 1), delta = (1, 0, -1)
    g = w2 * relu(w1 * x0 + b1)
    fig, ax = plotting.subplots(width=6)
    ax.plot(t, g)
    ax.set(title="f(x0 = 1; theta0 + t delta) = (1 - t) ReLU(t)", xlabel="t (position on the line)",
           ylabel="network output")
    return Result(neither_convex_nor_concave(g), {"min_second_difference": float(second_differences(g).min()),
                                                  "max_second_difference": float(second_differences(g).max())},
                  "Along theta(t) = (w1, b1, w2) = (t, 0, 1 - t) the output is 0 for t < 0 and t - t^2 after: "
                  "convex at t = 0, concave beyond.", [("nonconvex_in_parameters", fig, "Width 1 suffices.")])


def or_net(x):
    """2 layers, width 2: f = ReLU(x1) + ReLU(x2)  (W1 = I, b1 = 0, W2 = [1, 1], b2 = 0)."""
    return relu(x[..., 0]) + relu(x[..., 1])


def xor_net(x):
    """3 layers, width 4. Layer 1: p1 = ReLU(-x1), q1 = ReLU(x2), p2 = ReLU(x1), q2 = ReLU(-x2).
    Layer 2: ReLU(p1), ReLU(p1 - q1), ReLU(p2), ReLU(p2 - q2).  Output: sum of min(p, q) = ReLU(p) - ReLU(p - q),
    which is > 0 iff p > 0 and q > 0 (an AND)."""
    h1 = relu(x @ np.array([[-1.0, 0, 1, 0], [0, 1, 0, -1]]))
    h2 = relu(h1 @ np.array([[1.0, 1, 0, 0], [0, -1, 0, 0], [0, 0, 1, 1], [0, 0, 0, -1]]))
    return h2 @ np.array([1.0, -1, 1, -1])


def nand_net(x):
    """On binary inputs: f = ReLU(1.5 - x1 - x2) - 0.25 is > 0 iff NOT (x1 AND x2)."""
    return relu(1.5 - x[..., 0] - x[..., 1]) - 0.25


@check("logic_gates", HW, "Q7",
       "ReLU networks realise OR (2 layers, width 2) and XOR (3 layers, width 4) with the strict inequalities of "
       "the homework on all of R^2, and NAND on binary inputs, hence every boolean function.")
def logic_gates(rng, n=401):
    g = np.linspace(-2, 2, n)  # contains 0 exactly: the boundaries are tested
    X = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    x1, x2 = X[:, 0], X[:, 1]
    or_ok = np.array_equal(or_net(X) > 0, (x1 > 0) | (x2 > 0))
    xor_ok = np.array_equal(xor_net(X) > 0, ((x1 < 0) & (x2 > 0)) | ((x1 > 0) & (x2 < 0)))
    B = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    nand_ok = np.array_equal(nand_net(B) > 0, ~((B[:, 0] > 0) & (B[:, 1] > 0)))

    def nand(a, b):
        return (nand_net(np.stack([a, b], -1)) > 0).astype(float)

    xor_from_nand = nand(nand(B[:, 0], nand(B[:, 0], B[:, 1])), nand(B[:, 1], nand(B[:, 0], B[:, 1])))
    complete = np.array_equal(xor_from_nand, np.array([0, 1, 1, 0.0]))
    fig, axes = plotting.subplots(2, width=4)
    for ax, f, title in ((axes[0], or_net, "OR: f > 0"), (axes[1], xor_net, "XOR: f > 0")):
        ax.imshow((f(X) > 0).reshape(n, n).T, origin="lower", extent=(-2, 2, -2, 2), cmap="Blues")
        ax.set(title=title, xlabel="x1", ylabel="x2")
    passed = or_ok and xor_ok and nand_ok and complete
    return Result(passed, {"grid_points": n * n, "or": bool(or_ok), "xor": bool(xor_ok), "nand_binary": bool(nand_ok),
                           "xor_from_nands": bool(complete)},
                  f"On a {n}x{n} grid of [-2, 2]^2 including the axes: OR and XOR match exactly. NAND matches on "
                  "{0,1}^2, and four NAND networks composed give XOR's truth table: NAND is functionally complete, "
                  "so ReLU networks represent every boolean function. (On all of R^2 a continuous f cannot have "
                  "f > 0 exactly on the closed set where NAND holds, since f would have to be > 0 on the boundary "
                  "of the open quadrant where it is <= 0; this is why NAND is stated for binary inputs.)",
                  [("logic_gates", fig, "Blue: f > 0.")])


def backprop_identity_formula(W, x, y, u, v):
    """dL/dW = v (x) u + diag(Theta(y)) (I + W^T) v (x) x, with a (x) b the outer product a b^T."""
    d = len(x)
    return np.outer(v, u) + np.outer(np.diag((y > 0).astype(float)) @ (np.eye(d) + W.T) @ v, x)


@check("backprop_identity", HW, "Q8",
       "For y = W x, u = ReLU(y), v = u + W u, L = ||v||^2 / 2: dL/dW = v (x) u + diag(Theta(y)) (I + W^T) v (x) x.")
def backprop_identity(rng, d=6, trials=20, formula=backprop_identity_formula):
    errs = []
    for _ in range(trials):
        W, x = rng.standard_normal((d, d)), rng.standard_normal(d)
        Wt = torch.tensor(W, requires_grad=True)
        yt = Wt @ torch.tensor(x)
        ut = torch.relu(yt)
        vt = ut + Wt @ ut
        (0.5 * (vt * vt).sum()).backward()
        y = W @ x
        u = relu(y)
        v = u + W @ u
        errs.append(float(np.max(np.abs(formula(W, x, y, u, v) - Wt.grad.numpy()))))
    return Result(max(errs) < 1e-10, {"max_abs_error": max(errs), "trials": trials, "d": d},
                  f"Over {trials} random (W, x) with d = {d}: max |formula - autograd| = {max(errs):.1e}.")

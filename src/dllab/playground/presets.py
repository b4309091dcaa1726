"""Configurations that work, each with a sentence on why (the page's "presets" menu and the studies' baselines)."""

from __future__ import annotations

PRESETS: dict[str, dict] = {
    "circle, two features": {
        "config": {"dataset": "circle", "features": ["x1", "x2"], "hidden": [4], "activation": "tanh",
                   "learning_rate": 0.03},
        "why": "Four tanh neurons draw four lines whose smooth combination closes around the inner cluster.",
    },
    "circle, one neuron": {
        "config": {"dataset": "circle", "features": ["x1^2", "x2^2"], "hidden": [], "learning_rate": 0.03},
        "why": "With x1^2 and x2^2 as inputs the circle x1^2 + x2^2 = r^2 is a straight line: no hidden layer "
               "is needed.",
    },
    "xor, product feature": {
        "config": {"dataset": "xor", "features": ["x1*x2"], "hidden": [], "learning_rate": 0.03},
        "why": "The label is the sign of x1 * x2, so that one feature separates the classes by itself.",
    },
    "xor, ReLU": {
        "config": {"dataset": "xor", "features": ["x1", "x2"], "hidden": [8], "activation": "relu",
                   "learning_rate": 0.03},
        "why": "Eight ReLU neurons give enough kinks to carve the four quadrants.",
    },
    "gauss, linear": {
        "config": {"dataset": "gauss", "features": ["x1", "x2"], "hidden": [], "learning_rate": 0.03},
        "why": "Two Gaussians on either side of a line are linearly separable: the output neuron alone suffices.",
    },
    "spiral, features + depth": {
        "config": {"dataset": "spiral", "features": ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"],
                   "hidden": [8, 8, 8], "activation": "tanh", "learning_rate": 0.03, "batch_size": 10},
        "why": "The spiral turns 1.75 times: sin features give the network periodic building blocks and three "
               "tanh layers compose them into the winding boundary.",
    },
    "spiral, x1 x2 only": {
        "config": {"dataset": "spiral", "features": ["x1", "x2"], "hidden": [8, 8, 8, 8, 8, 8],
                   "activation": "relu", "learning_rate": 0.01, "batch_size": 10},
        "why": "Without engineered features depth must do the work: six ReLU layers fold the plane enough times.",
    },
    "plane, linear regression": {
        "config": {"dataset": "plane", "features": ["x1", "x2"], "hidden": [], "learning_rate": 0.01},
        "why": "The target (x1 + x2) / 10 is linear, so a linear output fits it exactly.",
    },
    "multi-gaussian": {
        "config": {"dataset": "multi-gaussian", "features": ["x1", "x2"], "hidden": [8, 8], "activation": "tanh",
                   "learning_rate": 0.03},
        "why": "Six signed bumps need local features; two tanh layers build bump-shaped responses.",
    },
    "blobs, softmax": {
        "config": {"dataset": "blobs", "features": ["x1", "x2"], "hidden": [4], "activation": "relu",
                   "loss": "cross_entropy", "learning_rate": 0.03},
        "why": "Four classes take a softmax output with cross-entropy; a few ReLU neurons split the quadrants.",
    },
}

// dllab playground engine in JavaScript: a port of dllab/playground/engine.py (the model and training),
// datasets.py (the data sets, CSV points) and regions.py (linear regions), run in a Web Worker by the static
// playground (`dllab playground --export DIR`). The Python engine is the reference: the tests train the same
// network from the same data and initial weights here and in Python and compare the losses epoch by epoch
// (float64, relative difference <= 1e-9).
//
// The worker speaks the server's protocol: it receives config, csv, play, pause, step, reset, regenerate and
// ack messages and posts state, update and error messages of the same shape (heatmaps as Uint8Arrays instead
// of base64). Two more: `load` (a config with its own train/test points and initial weights) and `history`
// (every epoch's record so far). The data sets are drawn from the same distributions as in Python, but with
// this file's random generator (sfc32), so one seed gives different points here and on the server.
//
// Everything sits inside one function so that the page can start the worker from its source text (a Blob URL),
// which works from file:// as well as from any web server.
"use strict";

function dllabEngine(self) {
  // -- random numbers: sfc32 seeded from a string hash (cyrb128) of "seed/stream" -------------------------
  function rng(seed, stream) {
    const text = `${seed}/${stream}`;
    let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
    for (let i = 0; i < text.length; i++) {
      const k = text.charCodeAt(i);
      h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
      h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
      h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
      h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
    }
    let a = Math.imul(h3 ^ (h1 >>> 18), 597399067) >>> 0, b = Math.imul(h4 ^ (h2 >>> 22), 2869860233) >>> 0;
    let c = Math.imul(h1 ^ (h3 >>> 17), 951274213) >>> 0, d = Math.imul(h2 ^ (h4 >>> 19), 2716044179) >>> 0;
    const next = () => {
      const t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (c << 21) | (c >>> 11);
      c = (c + t) | 0;
      return (t >>> 0) / 4294967296;
    };
    for (let i = 0; i < 15; i++) next();
    const uniform = (lo, hi) => lo + (hi - lo) * next();
    const normal = (mean, std) => {  // Box-Muller
      const u = 1 - next(), v = next();
      return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    };
    const permutation = (n) => {
      const p = Array.from({length: n}, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [p[i], p[j]] = [p[j], p[i]];
      }
      return p;
    };
    return {uniform, normal, permutation};
  }

  // -- data sets (datasets.py): points [x1, x2] and labels ----------------------------------------------------
  const gaussVariance = (noise) => 0.5 + (4.0 - 0.5) * noise / 0.5;
  const BUMPS = [[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]];
  function spiralArms(n, noise, r, arms) {
    const k = Math.floor(n / arms), x = [], y = [];
    for (let arm = 0; arm < arms; arm++) {
      const delta = arm * 2 * Math.PI / arms;
      for (let i = 0; i < k; i++) {
        const radius = i / k * 5, t = 1.75 * i / k * 2 * Math.PI + delta;
        x.push([radius * Math.sin(t) + r.uniform(-1, 1) * noise, radius * Math.cos(t) + r.uniform(-1, 1) * noise]);
        y.push(arm);
      }
    }
    return [x, y];
  }
  const GENERATORS = {
    circle(n, noise, r) {
      const x = [], y = [];
      for (let i = 0; i < n; i++) {
        const radius = i < Math.floor(n / 2) ? r.uniform(0, 2.5) : r.uniform(3.5, 5), angle = r.uniform(0, 2 * Math.PI);
        const p = [radius * Math.sin(angle), radius * Math.cos(angle)];
        const sx = p[0] + r.uniform(-5, 5) * noise, sy = p[1] + r.uniform(-5, 5) * noise;
        x.push(p);
        y.push(Math.hypot(sx, sy) < 2.5 ? 1 : -1);
      }
      return [x, y];
    },
    xor(n, noise, r) {
      const x = [], y = [];
      for (let i = 0; i < n; i++) {
        const p = [r.uniform(-5, 5), r.uniform(-5, 5)].map((v) => v + (v > 0 ? 0.3 : -0.3));
        const sx = p[0] + r.uniform(-5, 5) * noise, sy = p[1] + r.uniform(-5, 5) * noise;
        x.push(p);
        y.push(sx * sy >= 0 ? 1 : -1);
      }
      return [x, y];
    },
    gauss(n, noise, r) {
      const std = Math.sqrt(gaussVariance(noise)), half = Math.floor(n / 2), x = [], y = [];
      for (let i = 0; i < n; i++) {
        const m = i < half ? 2 : -2;
        x.push([r.normal(m, std), r.normal(m, std)]);
        y.push(i < half ? 1 : -1);
      }
      return [x, y];
    },
    spiral(n, noise, r) {
      const [x, arm] = spiralArms(n, noise, r, 2);
      return [x, arm.map((a) => (a === 0 ? 1 : -1))];
    },
    plane(n, noise, r) {
      const x = [], y = [];
      for (let i = 0; i < n; i++) {
        const p = [r.uniform(-6, 6), r.uniform(-6, 6)];
        x.push(p);
        y.push((p[0] + r.uniform(-6, 6) * noise + p[1] + r.uniform(-6, 6) * noise) / 10);
      }
      return [x, y];
    },
    "multi-gaussian"(n, noise, r) {
      const x = [], y = [];
      for (let i = 0; i < n; i++) {
        const p = [r.uniform(-6, 6), r.uniform(-6, 6)];
        const sx = p[0] + r.uniform(-6, 6) * noise, sy = p[1] + r.uniform(-6, 6) * noise;
        let best = 0;
        for (const [cx, cy, sign] of BUMPS) {
          const v = sign * Math.min(Math.max(1 - Math.hypot(sx - cx, sy - cy) / 2, 0), 1);
          if (Math.abs(v) > Math.abs(best)) best = v;
        }
        x.push(p);
        y.push(best);
      }
      return [x, y];
    },
    blobs(n, noise, r) {
      const centres = [[2.5, 2.5], [-2.5, 2.5], [-2.5, -2.5], [2.5, -2.5]], std = Math.sqrt(gaussVariance(noise));
      const x = [], y = [];
      for (let i = 0; i < n; i++) {
        x.push([r.normal(centres[i % 4][0], std), r.normal(centres[i % 4][1], std)]);
        y.push(i % 4);
      }
      return [x, y];
    },
    spiral3(n, noise, r) { return spiralArms(n, noise, r, 3); },
  };
  // name -> [problem, classes (1: binary -1/+1 labels; 0: regression), points], as DATASETS in datasets.py
  const DATASETS = {circle: ["classification", 1, 500], xor: ["classification", 1, 500],
    gauss: ["classification", 1, 500], spiral: ["classification", 1, 500], plane: ["regression", 0, 1200],
    "multi-gaussian": ["regression", 0, 1200], blobs: ["classification", 4, 500], spiral3: ["classification", 3, 501]};

  function parseCsv(text, maxPoints = 20000) {
    const isNumber = (s) => s.trim() !== "" && !isNaN(Number(s));
    let rows = text.split(/\r?\n/).map((line) => line.split(",")).filter((r) => r.some((c) => c.trim()));
    if (rows.length && !isNumber(rows[0][0])) rows = rows.slice(1);
    if (!rows.length) throw new Error("the CSV holds no points: give rows of x1,x2,label");
    if (rows.length > maxPoints) throw new Error(`the CSV holds ${rows.length} points; at most ${maxPoints} are accepted`);
    const x = [], y = [];
    rows.forEach((row, i) => {
      if (row.length !== 3 || !row.every(isNumber))
        throw new Error(`CSV row ${i + 1} is '${row.join(",").slice(0, 60)}': expected three numbers x1,x2,label`);
      const v = row.map(Number);
      if (!v.every(Number.isFinite)) throw new Error("the CSV holds a value that is not finite (inf or nan)");
      x.push([v[0], v[1]]);
      y.push(v[2]);
    });
    const labels = [...new Set(y)].sort((a, b) => a - b);
    if (labels.length === 2 && labels[0] === -1 && labels[1] === 1) return [x, y, "classification", 1];
    if (labels.length === 2 && labels[0] === 0 && labels[1] === 1) return [x, y.map((v) => (v === 1 ? 1 : -1)), "classification", 1];
    const max = labels[labels.length - 1];
    if (y.every(Number.isInteger) && labels[0] === 0 && max >= 2 && max <= 9) return [x, y, "classification", max + 1];
    return [x, y, "regression", 0];
  }

  // -- the config (PlaygroundConfig): defaults, ranges, one error with the key at fault ----------------------
  const FEATURES = {"x1": (p) => p[0], "x2": (p) => p[1], "x1^2": (p) => p[0] * p[0], "x2^2": (p) => p[1] * p[1],
    "x1*x2": (p) => p[0] * p[1], "sin(x1)": (p) => Math.sin(p[0]), "sin(x2)": (p) => Math.sin(p[1])};
  const ACTS = ["relu", "tanh", "sigmoid", "linear"];
  const DEFAULTS = {dataset: "circle", noise: 0, train_ratio: 50, batch_size: 10, features: ["x1", "x2"],
    hidden: [4, 2], activation: "tanh", layer_activations: null, learning_rate: 0.03, regularization: "none",
    regularization_rate: 0, loss: "squared", seed: 0, init_zero: false, extended: false, max_epochs: null};
  class ConfigError extends Error {
    constructor(key, message) { super(`${key}: ${message}`); this.key = key; }
  }
  function validate(values) {
    const cfg = Object.assign({}, DEFAULTS, values);
    const fail = (key, message) => { throw new ConfigError(key, message); };
    for (const key of Object.keys(cfg)) if (!(key in DEFAULTS)) fail(key, "Extra inputs are not permitted");
    const number = (key, lo, hi, integer) => {
      const v = cfg[key];
      if (typeof v !== "number" || !Number.isFinite(v) || (integer && !Number.isInteger(v)))
        fail(key, `should be ${integer ? "an integer" : "a number"}`);
      if (v < lo || v > hi) fail(key, `should be between ${lo} and ${hi}`);
    };
    const choice = (key, options) => { if (!options.includes(cfg[key])) fail(key, `should be one of ${options.join(", ")}`); };
    choice("dataset", [...Object.keys(DATASETS), "csv"]);
    number("noise", 0, 50, true);
    number("train_ratio", 10, 90, true);
    number("batch_size", 1, 30, true);
    number("learning_rate", 0.00001, 10, false);
    number("regularization_rate", 0, 10, false);
    number("seed", 0, Number.MAX_SAFE_INTEGER, true);
    if (cfg.max_epochs !== null) number("max_epochs", 1, Number.MAX_SAFE_INTEGER, true);
    choice("activation", ACTS);
    choice("regularization", ["none", "L1", "L2"]);
    choice("loss", ["squared", "cross_entropy"]);
    for (const key of ["init_zero", "extended"]) if (typeof cfg[key] !== "boolean") fail(key, "should be true or false");
    if (!Array.isArray(cfg.features) || !cfg.features.length || new Set(cfg.features).size !== cfg.features.length ||
        cfg.features.some((f) => !(f in FEATURES)))
      fail("features", `should be distinct names from ${Object.keys(FEATURES).join(", ")}`);
    const [layers, width] = cfg.extended ? [10, 32] : [6, 8];
    if (!Array.isArray(cfg.hidden) || cfg.hidden.length > layers || cfg.hidden.some((h) => !Number.isInteger(h) || h < 1 || h > width))
      fail("hidden", `should hold 0-${layers} layers of 1-${width} neurons (extended: 10 of 32)`);
    if (cfg.layer_activations !== null && (!Array.isArray(cfg.layer_activations) ||
        cfg.layer_activations.length !== cfg.hidden.length || cfg.layer_activations.some((a) => !ACTS.includes(a))))
      fail("layer_activations", "should give one activation (relu, tanh, sigmoid, linear) per hidden layer");
    return cfg;
  }

  // -- the network (engine.py's Network): W[l] (nIn x nOut, row-major Float64Array), b[l] -------------------
  const FORWARD = {
    relu: (z) => { for (let i = 0; i < z.length; i++) if (!(z[i] > 0)) z[i] = 0; },
    tanh: (z) => { for (let i = 0; i < z.length; i++) z[i] = Math.tanh(z[i]); },
    sigmoid: (z) => {  // stable for any z, as scipy's expit
      for (let i = 0; i < z.length; i++) {
        const v = z[i];
        if (v >= 0) z[i] = 1 / (1 + Math.exp(-v));
        else { const e = Math.exp(v); z[i] = e / (1 + e); }
      }
    },
    linear: () => {},
  };
  // The heatmaps (8-bit colours: steps of 1/128) take tanh and sigmoid from a table, linear between its points
  // (error under 2e-6): Math.tanh was 60% of an update for the spiral with [8, 8, 8] tanh layers. Training, losses
  // and accuracies never use it.
  const TABLE_STEP = 1 / 256, TABLE_END = 8, TANH = Float64Array.from({length: 2 * TABLE_END / TABLE_STEP + 2},
    (_, i) => Math.tanh(-TABLE_END + i * TABLE_STEP));
  const tableTanh = (x) => {
    if (!(x > -TABLE_END)) return x === x ? -1 : x;
    if (x >= TABLE_END) return 1;
    const t = (x + TABLE_END) / TABLE_STEP, i = Math.floor(t);
    return TANH[i] + (t - i) * (TANH[i + 1] - TANH[i]);
  };
  const DISPLAY = Object.assign({}, FORWARD, {
    tanh: (z) => { for (let i = 0; i < z.length; i++) z[i] = tableTanh(z[i]); },
    sigmoid: (z) => { for (let i = 0; i < z.length; i++) z[i] = 0.5 + 0.5 * tableTanh(0.5 * z[i]); },
  });
  // d activation / d pre-activation from the activation's output a (relu: a > 0; tanh: 1 - a^2; sigmoid: a (1 - a))
  const BACKWARD = {
    relu: (g, a) => { for (let i = 0; i < g.length; i++) if (!(a[i] > 0)) g[i] = 0; },
    tanh: (g, a) => { for (let i = 0; i < g.length; i++) g[i] *= 1 - a[i] * a[i]; },
    sigmoid: (g, a) => { for (let i = 0; i < g.length; i++) g[i] *= a[i] * (1 - a[i]); },
    linear: () => {},
  };

  class Network {
    constructor(sizes, activations, output, r, initZero) {
      this.sizes = sizes;
      this.activations = [...activations, output];
      this.W = [];
      this.b = [];
      this.alive = [];
      for (let l = 0; l + 1 < sizes.length; l++) {
        const W = new Float64Array(sizes[l] * sizes[l + 1]);
        if (!initZero) for (let i = 0; i < W.length; i++) W[i] = r.uniform(-0.5, 0.5);
        this.W.push(W);
        this.b.push(new Float64Array(sizes[l + 1]).fill(initZero ? 0 : 0.1));
        this.alive.push(new Uint8Array(W.length).fill(1));
      }
    }

    // x: (n, sizes[0]) row-major; returns every layer's activations, inputs first (display: for heatmaps only)
    forward(x, n, display = false) {
      const acts = [x];
      for (let l = 0; l < this.W.length; l++) {
        const nIn = this.sizes[l], nOut = this.sizes[l + 1], W = this.W[l], b = this.b[l], a = acts[l];
        const z = new Float64Array(n * nOut);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < nOut; j++) {
            let s = 0;
            for (let k = 0; k < nIn; k++) s += a[i * nIn + k] * W[k * nOut + j];
            z[i * nOut + j] = s + b[j];
          }
        }
        const act = this.activations[l];
        if (act === "softmax") {
          for (let i = 0; i < n; i++) {
            let m = -Infinity, sum = 0;
            for (let j = 0; j < nOut; j++) m = Math.max(m, z[i * nOut + j]);
            for (let j = 0; j < nOut; j++) { z[i * nOut + j] = Math.exp(z[i * nOut + j] - m); sum += z[i * nOut + j]; }
            for (let j = 0; j < nOut; j++) z[i * nOut + j] /= sum;
          }
        } else (display ? DISPLAY : FORWARD)[act](z);
        acts.push(z);
      }
      return acts;
    }

    backward(acts, delta, n) {  // delta: d loss / d (output pre-activation), (n, nOut); batch-mean gradients
      const dW = [], db = [];
      for (let l = this.W.length - 1; l >= 0; l--) {
        const nIn = this.sizes[l], nOut = this.sizes[l + 1], a = acts[l];
        const gW = new Float64Array(nIn * nOut), gb = new Float64Array(nOut);
        for (let i = 0; i < n; i++) {
          for (let k = 0; k < nIn; k++) {
            const ak = a[i * nIn + k];
            for (let j = 0; j < nOut; j++) gW[k * nOut + j] += ak * delta[i * nOut + j];
          }
          for (let j = 0; j < nOut; j++) gb[j] += delta[i * nOut + j];
        }
        for (let i = 0; i < gW.length; i++) gW[i] /= n;
        for (let j = 0; j < nOut; j++) gb[j] /= n;
        dW[l] = gW;
        db[l] = gb;
        if (l) {
          const W = this.W[l], back = new Float64Array(n * nIn);
          for (let i = 0; i < n; i++) {
            for (let k = 0; k < nIn; k++) {
              let s = 0;
              for (let j = 0; j < nOut; j++) s += delta[i * nOut + j] * W[k * nOut + j];
              back[i * nIn + k] = s;
            }
          }
          BACKWARD[this.activations[l - 1]](back, a);
          delta = back;
        }
      }
      return [dW, db];
    }
  }

  // -- the playground (engine.py's Playground) ---------------------------------------------------------------
  class Playground {
    // data: a CSV's points {x, y, problem, classes}, or {train: [x, y], test: [x, y], problem, classes} with
    // initial weights [W, b] (a load message); else the config's data set, drawn from its seed
    constructor(cfg, data = null, weights = null) {
      this.cfg = cfg;
      this.features = cfg.features;
      this.initial = weights;
      this.gridCache = {};
      if (data && data.train) {
        [this.problem, this.classes] = [data.problem, data.classes];
        this.train = this.pack(...data.train);
        this.test = this.pack(...data.test);
      } else {
        let x, y;
        if (data) [x, y, this.problem, this.classes] = [data.x, data.y, data.problem, data.classes];
        else {
          if (cfg.dataset === "csv") throw new ConfigError("dataset", "load a CSV file first");
          const [problem, classes, n] = DATASETS[cfg.dataset];
          [x, y] = GENERATORS[cfg.dataset](n, cfg.noise / 100, rng(cfg.seed, "data"));
          [this.problem, this.classes] = [problem, classes];
        }
        const order = rng(cfg.seed, "shuffle").permutation(x.length);
        [x, y] = [order.map((i) => x[i]), order.map((i) => y[i])];
        const cut = Math.floor(x.length * cfg.train_ratio / 100);
        this.train = this.pack(x.slice(0, cut), y.slice(0, cut));
        this.test = this.pack(x.slice(cut), y.slice(cut));
      }
      this.reset();
    }

    pack(x, y) {  // points with their feature rows (n, nFeatures), built once
      return {x, y, n: x.length, inputs: this.inputs(x)};
    }

    get nOut() { return this.classes > 1 ? this.classes : 1; }

    outputActivation() {
      if (this.classes > 1) return "softmax";
      if (this.problem === "regression") return "linear";
      return this.cfg.loss === "cross_entropy" ? "sigmoid" : "tanh";
    }

    activations() { return this.cfg.layer_activations || this.cfg.hidden.map(() => this.cfg.activation); }

    reset() {  // the initial weights again (from the seed, or those loaded), epoch 0; the data stay
      const sizes = [this.features.length, ...this.cfg.hidden, this.nOut];
      this.net = new Network(sizes, this.activations(), this.outputActivation(), rng(this.cfg.seed, "init"),
                             this.cfg.init_zero);
      if (this.initial) {
        const [W, b] = this.initial;
        this.net.W = W.map((rows) => Float64Array.from(rows.flat()));
        this.net.b = b.map((v) => Float64Array.from(v));
      }
      this.epoch = 0;
      this.carry = null;
      this.history = [];
    }

    gridInputs(density) {  // the features at a density x density grid, computed once per network
      return this.gridCache[density] || (this.gridCache[density] = this.inputs(this.grid(density)));
    }

    inputs(points) {
      const fs = this.features.map((f) => FEATURES[f]), out = new Float64Array(points.length * fs.length);
      points.forEach((p, i) => fs.forEach((f, j) => { out[i * fs.length + j] = f(p); }));
      return out;
    }

    outputs(inputs, n) { return this.net.forward(inputs, n).pop(); }

    // the output per point: binary in [-1, 1], regression real, multi-class probabilities (n, K)
    predictions(out, n) {
      if (this.classes > 1) return out;
      return this.outputActivation() === "sigmoid" ? out.map((v) => 2 * v - 1) : out;
    }

    loss(set) {  // mean 0.5 (out - y)^2 on the original's scale (multi-class: summed over one-hot outputs)
      if (!set.n) return NaN;
      const p = this.predictions(this.outputs(set.inputs, set.n), set.n), K = this.classes;
      let s = 0;
      for (let i = 0; i < set.n; i++) {
        if (K > 1) for (let k = 0; k < K; k++) { const d = p[i * K + k] - (set.y[i] === k ? 1 : 0); s += d * d; }
        else { const d = p[i] - set.y[i]; s += d * d; }
      }
      return 0.5 * s / set.n;
    }

    accuracy(set) {
      if (this.problem === "regression" || !set.n) return null;
      const p = this.predictions(this.outputs(set.inputs, set.n), set.n), K = this.classes;
      let right = 0;
      for (let i = 0; i < set.n; i++) {
        if (K > 1) {
          let best = 0;
          for (let k = 1; k < K; k++) if (p[i * K + k] > p[i * K + best]) best = k;
          right += best === set.y[i];
        } else right += (p[i] >= 0 ? 1 : -1) === set.y[i];
      }
      return right / set.n;
    }

    gradients(inputs, y, n) {
      const acts = this.net.forward(inputs, n), out = acts[acts.length - 1], K = this.nOut;
      const delta = new Float64Array(n * K);
      const kind = this.outputActivation();
      for (let i = 0; i < n; i++) {
        if (kind === "softmax") for (let k = 0; k < K; k++) delta[i * K + k] = out[i * K + k] - (y[i] === k ? 1 : 0);
        else if (kind === "sigmoid") delta[i] = out[i] - (y[i] + 1) / 2;
        else if (kind === "tanh") delta[i] = (out[i] - y[i]) * (1 - out[i] * out[i]);
        else delta[i] = out[i] - y[i];
      }
      return this.net.backward(acts, delta, n);
    }

    update([dW, db]) {  // SGD, then L1/L2 on the weights; an L1 step across zero sets the weight to 0, frozen
      const {learning_rate: lr, regularization_rate: rate, regularization: reg} = this.cfg;
      this.net.W.forEach((W, l) => {
        const alive = this.net.alive[l], g = dW[l];
        for (let i = 0; i < W.length; i++) {
          if (!alive[i]) continue;
          const after = W[i] - lr * g[i];
          const regGrad = reg === "L1" ? Math.sign(W[i]) : reg === "L2" ? W[i] : 0;
          let value = after - lr * rate * regGrad;
          if (reg === "L1" && after * value < 0) { value = 0; alive[i] = 0; }
          W[i] = value;
        }
        const b = this.net.b[l];
        for (let j = 0; j < b.length; j++) b[j] -= lr * db[l][j];
      });
    }

    batch(set, from, to, carry) {  // the feature rows and labels of set[from:to], after a carried partial batch
      const f = this.features.length;
      if (!carry) return [set.inputs.subarray(from * f, to * f), set.y.slice(from, to), to - from];
      const inputs = new Float64Array((carry.n + to - from) * f);
      inputs.set(carry.inputs);
      inputs.set(set.inputs.subarray(from * f, to * f), carry.n * f);
      return [inputs, [...carry.y, ...set.y.slice(from, to)], carry.n + to - from];
    }

    step(epochs = 1) {
      const set = this.train, bs = this.cfg.batch_size, f = this.features.length;
      let rec = null;
      for (let e = 0; e < epochs && !this.done; e++) {
        let start = 0;
        if (this.carry && set.n) {  // the leftover examples join this epoch's first batch
          const first = Math.min(bs, set.n);
          this.update(this.gradients(...this.batch(set, 0, first, this.carry)));
          start = first;
          this.carry = null;
        }
        const fullEnd = start + Math.floor((set.n - start) / bs) * bs;
        for (let s = start; s < fullEnd; s += bs) this.update(this.gradients(...this.batch(set, s, s + bs, null)));
        if (fullEnd < set.n)
          this.carry = {inputs: set.inputs.slice(fullEnd * f), y: set.y.slice(fullEnd), n: set.n - fullEnd};
        this.epoch++;
        rec = this.record();
        this.history.push(rec);
      }
      return rec ? {...rec} : this.record();
    }

    get done() { return this.cfg.max_epochs !== null && this.epoch >= this.cfg.max_epochs; }

    record() {
      return {epoch: this.epoch, train_loss: this.loss(this.train), test_loss: this.loss(this.test),
              train_acc: this.accuracy(this.train), test_acc: this.accuracy(this.test)};
    }

    grid(density) {  // row 0 at the top (x2 = 6), as Playground.grid
      const pts = [];
      for (let r = 0; r < density; r++) {
        const x2 = 6 - 12 * r / (density - 1);
        for (let c = 0; c < density; c++) pts.push([-6 + 12 * c / (density - 1), x2]);
      }
      return pts;
    }

    heatmaps(density, neuronDensity) {  // quantised to bytes, as the server's update message
      const quantise = (values, lo, hi) => {
        const q = new Uint8Array(values.length);
        for (let i = 0; i < values.length; i++) q[i] = Math.min(255, Math.max(0, (values[i] - lo) / (hi - lo) * 255)) || 0;
        return q;
      };
      const n = density * density, out = this.predictions(this.net.forward(this.gridInputs(density), n, true).pop(), n);
      let output;
      if (this.classes > 1) {
        const K = this.classes, cls = new Uint8Array(n), conf = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          let best = 0;
          for (let k = 1; k < K; k++) if (out[i * K + k] > out[i * K + best]) best = k;
          cls[i] = best;
          conf[i] = out[i * K + best];
        }
        output = {class: cls, confidence: quantise(conf, 0, 1)};
      } else output = {value: quantise(out, -1, 1)};
      const m = neuronDensity * neuronDensity, acts = this.net.forward(this.gridInputs(neuronDensity), m, true);
      const columns = (a, width) => Array.from({length: width}, (_, j) => {
        const v = new Float64Array(m);
        let max = 0;
        for (let i = 0; i < m; i++) { v[i] = a[i * width + j]; max = Math.max(max, Math.abs(v[i])); }
        for (let i = 0; i < m; i++) v[i] /= max || 1;
        return quantise(v, -1, 1);
      });
      const neurons = [];
      for (let l = 1; l < acts.length - 1; l++) neurons.push(...columns(acts[l], this.net.sizes[l]));
      return {output, neurons, inputs: columns(acts[0], this.features.length)};
    }
  }

  // -- linear regions (regions.py): convex polygons split neuron by neuron, layer by layer --------------------
  const SQUARE = [[-6, -6], [6, -6], [6, 6], [-6, 6]];
  function polygonArea(p) {
    let s = 0;
    for (let i = 0; i < p.length; i++) { const q = p[(i + 1) % p.length]; s += p[i][0] * q[1] - p[i][1] * q[0]; }
    return p.length < 3 ? 0 : Math.abs(s) / 2;
  }
  function splitPolygon(p, s) {
    const above = [], below = [];
    for (let i = 0; i < p.length; i++) {
      const j = (i + 1) % p.length, a = s[i], b = s[j];
      if (a >= 0) above.push(p[i]);
      if (a <= 0) below.push(p[i]);
      if (a * b < 0) {
        const t = a / (a - b), x = [p[i][0] + t * (p[j][0] - p[i][0]), p[i][1] + t * (p[j][1] - p[i][1])];
        above.push(x);
        below.push(x);
      }
    }
    return [above, below];
  }
  // hidden: [{W, nIn, nOut, b, act}]; the features are x @ A (A: 2 x nFeatures; x1, x2 only). null past the budget
  function exactRegions(hidden, A, work) {
    let cells = [{poly: SQUARE, M: A, v: new Float64Array(A[0].length)}];
    for (const {W, b, nIn, nOut, act} of hidden) {
      const out = [];
      for (const {poly, M, v} of cells) {
        const Mz = [0, 1].map((r) => Float64Array.from({length: nOut}, (_, j) => {
          let s = 0;
          for (let k = 0; k < nIn; k++) s += M[r][k] * W[k * nOut + j];
          return s;
        }));
        const vz = Float64Array.from({length: nOut}, (_, j) => {
          let s = b[j];
          for (let k = 0; k < nIn; k++) s += v[k] * W[k * nOut + j];
          return s;
        });
        if (act !== "relu") { out.push({poly, M: Mz, v: vz}); continue; }
        let parts = [{poly, on: []}];
        for (let j = 0; j < nOut; j++) {
          work -= parts.length;
          if (work < 0) return null;
          const next = [];
          for (const {poly: piece, on} of parts) {
            const s = piece.map((q) => q[0] * Mz[0][j] + q[1] * Mz[1][j] + vz[j]);
            const big = Math.max(1, ...s.map(Math.abs));
            for (let i = 0; i < s.length; i++) if (Math.abs(s[i]) <= 1e-10 * big) s[i] = 0;
            const hi = Math.max(...s), lo = Math.min(...s);
            if (hi <= 0 || lo >= 0) { next.push({poly: piece, on: [...on, hi > 0]}); continue; }
            const [above, below] = splitPolygon(piece, s);
            if (polygonArea(above) > 1e-12) next.push({poly: above, on: [...on, true]});
            if (polygonArea(below) > 1e-12) next.push({poly: below, on: [...on, false]});
          }
          parts = next;
        }
        for (const {poly: piece, on} of parts)
          out.push({poly: piece, M: Mz.map((row) => row.map((x, j) => (on[j] ? x : 0))), v: vz.map((x, j) => (on[j] ? x : 0))});
      }
      cells = out;
    }
    return cells.length;
  }
  function gridRegions(pg, grid) {  // the distinct ReLU patterns on a grid x grid lattice (two 32-bit FNV hashes)
    const n = grid * grid, acts = pg.net.forward(pg.gridInputs(grid), n), keys = new Set();
    const relu = pg.activations().map((a, l) => (a === "relu" ? l + 1 : 0)).filter(Boolean);
    for (let i = 0; i < n; i++) {
      let h1 = 2166136261, h2 = 5381, bit = 0;
      for (const l of relu) {
        const w = pg.net.sizes[l], a = acts[l];
        for (let j = 0; j < w; j++, bit++) {
          const on = a[i * w + j] > 0 ? 2 * bit + 2 : 2 * bit + 1;
          h1 = Math.imul(h1 ^ on, 16777619);
          h2 = Math.imul(h2 ^ on, 1566083941);
        }
      }
      keys.add((h1 >>> 0) * 2097152 + ((h2 >>> 0) & 2097151));
    }
    return keys.size;
  }
  function countRegions(pg, precise) {
    const acts = pg.activations();
    if (!pg.features.every((f) => f === "x1" || f === "x2") || !acts.every((a) => a === "relu" || a === "linear")) return null;
    if (!acts.includes("relu")) return {regions: 1, method: "exact"};
    const A = [0, 1].map((r) => Float64Array.from(pg.features, (f) => ((f === "x1") === (r === 0) ? 1 : 0)));
    const hidden = acts.map((act, l) => ({W: pg.net.W[l], b: pg.net.b[l], nIn: pg.net.sizes[l], nOut: pg.net.sizes[l + 1], act}));
    const exact = exactRegions(hidden, A, precise ? 30000 : 5000);
    if (exact !== null) return {regions: exact, method: "exact"};
    const grid = precise ? 400 : 200;
    return {regions: gridRegions(pg, grid), method: `grid ${grid}x${grid}`};
  }

  // -- the worker: the server's protocol ------------------------------------------------------------------------
  const DENSITY = 100, NEURON_DENSITY = 20;
  let cfg = validate({}), points = null, pg = new Playground(cfg), playing = false, awaitingAck = false, ahead = null;

  const rows = (W, nIn, nOut) => Array.from({length: nIn}, (_, i) => Array.from(W.subarray(i * nOut, (i + 1) * nOut)));
  function update(precise, rec = null) {  // rec: the current epoch's record when a step just returned it
    const net = pg.net, sizes = net.sizes;
    return {type: "update", ...(rec || pg.record()), done: pg.done, ...pg.heatmaps(DENSITY, NEURON_DENSITY),
            weights: net.W.map((W, l) => rows(W, sizes[l], sizes[l + 1])), biases: net.b.map((b) => Array.from(b)),
            alive: net.alive.map((a, l) => rows(a, sizes[l], sizes[l + 1])), regions: countRegions(pg, precise),
            density: DENSITY, neuron_density: NEURON_DENSITY};
  }
  function state() {
    const list = (set) => set.x.map((p, i) => [p[0], p[1], set.y[i]]);
    return {type: "state", config: cfg, problem: pg.problem, classes: pg.classes, features: Object.keys(FEATURES),
            train: list(pg.train), test: list(pg.test)};
  }
  function configure(values, data = null, weights = null) {
    const next = validate(Object.assign({}, cfg, values));
    if (next.dataset === "csv" && !points && !data) throw new ConfigError("dataset", "load a CSV file first");
    pg = new Playground(next, data || (next.dataset === "csv" ? points : null), weights);
    cfg = next;
  }
  const post = (msg) => self.postMessage(msg);
  function advance() {  // one epoch while playing
    const rec = pg.step();
    if (pg.done) playing = false;
    return update(!playing, rec);
  }
  function sendNext() {  // post the next update, then compute the one after it while the page draws this one
    awaitingAck = true;
    post(ahead || advance());
    ahead = playing ? advance() : null;
  }
  function handle(msg) {
    if (msg === null || typeof msg !== "object") throw new Error("a message must be an object");
    const kind = msg.type;
    if (kind !== "ack" && kind !== "history") { ahead = null; }
    if (kind === "config") {
      if (!msg.config || typeof msg.config !== "object") throw new Error("a config message needs a 'config' object");
      playing = false;
      configure(msg.config);
      post(state());
      post(update(true));
    } else if (kind === "load") {  // a config with its own points and initial weights (the parity test, tools)
      const set = (list) => [list.map((p) => [p[0], p[1]]), list.map((p) => p[2])];
      playing = false;
      configure(msg.config, {train: set(msg.train), test: set(msg.test), problem: msg.problem, classes: msg.classes},
                [msg.weights, msg.biases]);
      post(state());
      post(update(true));
    } else if (kind === "csv") {
      const [x, y, problem, classes] = parseCsv(String(msg.text || ""));
      points = {x, y, problem, classes};
      playing = false;
      configure({dataset: "csv"});
      post(state());
      post(update(true));
    } else if (kind === "play") {
      playing = !pg.done;
      if (playing) sendNext();  // (an update the page never acknowledged, as it paused, is not waited for)
    } else if (kind === "pause") {
      playing = false;
      post(update(true));
    } else if (kind === "step") {
      playing = false;
      post(update(true, pg.step(Math.max(1, Math.min(10000, Number(msg.epochs) || 1)))));
    } else if (kind === "reset") {
      playing = false;
      pg.reset();
      post(update(true));
    } else if (kind === "regenerate") {
      playing = false;
      configure({seed: cfg.seed + 1});
      post(state());
      post(update(true));
    } else if (kind === "ack") {
      awaitingAck = false;
      if (playing) sendNext();
    } else if (kind === "history") {
      post({type: "history", history: pg.history});
    } else throw new Error(`unknown message type '${String(kind).slice(0, 40)}'`);
  }
  self.onmessage = (event) => {
    try { handle(event.data); } catch (err) {
      post({type: "error", key: err instanceof ConfigError ? err.key : null, message: err.message});
    }
  };
  post(state());
  post(update(true));
}

if (typeof window === "undefined" && typeof self !== "undefined") dllabEngine(self);  // loaded as a worker script

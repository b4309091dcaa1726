// dllab playground: a view on the engine. The page keeps the configuration in the URL, sends changes as
// messages and draws the updates that come back: over a WebSocket from the Python engine (`dllab playground`),
// or from the JavaScript engine in a Web Worker (engine.js, the static site of `dllab playground --export`);
// both speak one protocol. No build step.
"use strict";

const DATASETS = ["circle", "xor", "gauss", "spiral", "plane", "multi-gaussian", "blobs", "spiral3"];
const LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const REG_RATES = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const ACTIVATIONS = ["relu", "tanh", "sigmoid", "linear"];
const CLASS_COLOURS = [[245, 147, 34], [8, 119, 189], [46, 160, 67], [170, 70, 200], [200, 60, 60], [110, 110, 110],
                       [0, 170, 170], [190, 170, 0], [120, 80, 40], [230, 100, 160]];
const LIST_KEYS = ["features", "hidden", "layer_activations"];
const $ = (id) => document.getElementById(id);

let socket = null, config = null, pending = {}, info = {problem: "classification", classes: 1};
let points = {train: [], test: []}, last = null, history = [], playing = false, featureNames = [];
const STATIC = typeof dllabEngine === "function";  // engine.js is loaded: the exported site, no server
window.dllab = {rendered: 0, updates: 0, errors: [], mode: STATIC ? "static" : "server"};  // read by tests, benchmark

// -- messages and the URL ----------------------------------------------------------------------------------
function showMessage(text) {
  const box = $("message");
  box.textContent = text;
  box.hidden = !text;
  if (text) window.dllab.errors.push(text);
}

function parseHash() {
  const out = {};
  for (const part of window.location.hash.slice(1).split("&")) {
    if (!part) continue;
    const [k, v = ""] = part.split("=");
    const key = decodeURIComponent(k), raw = decodeURIComponent(v);
    if (LIST_KEYS.includes(key)) {
      const items = raw === "" ? [] : raw.split(",");
      out[key] = key === "hidden" ? items.map(Number) : items;
    } else if (raw === "true" || raw === "false") out[key] = raw === "true";
    else if (raw === "null") out[key] = null;
    else if (raw !== "" && !isNaN(Number(raw)) && key !== "dataset") out[key] = Number(raw);
    else out[key] = raw;
  }
  return out;
}

function writeHash() {
  const parts = Object.entries(config).filter(([, v]) => v !== null).map(([k, v]) =>
    `${encodeURIComponent(k)}=${encodeURIComponent(Array.isArray(v) ? v.join(",") : String(v))}`);
  window.history.replaceState(null, "", "#" + parts.join("&"));
}

function send(obj) {
  if (STATIC) socket.postMessage(obj);
  else if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(obj));
  else showMessage("not connected to the playground server; reconnecting...");
}

function change(patch) {  // any control: the server rebuilds the data/network from the new config
  pending = Object.assign({}, patch);
  send({type: "config", config: patch});
}

function onMessage(msg) {
  if (msg.type === "state") onState(msg);
  else if (msg.type === "update") onUpdate(msg);
  else if (msg.type === "error") onError(msg);
}

function startWorker() {  // the engine's source as a Blob: a worker that starts from file:// too
  const source = `(${dllabEngine.toString()})(self);`;
  socket = new Worker(URL.createObjectURL(new Blob([source], {type: "text/javascript"})));
  window.dllab.worker = socket;
  socket.onmessage = (event) => onMessage(event.data);
  socket.onerror = (event) => showMessage(`the playground's engine failed: ${event.message}`);
  const fromUrl = parseHash();
  if (Object.keys(fromUrl).length) change(fromUrl);
}

function connect() {
  if (STATIC) return startWorker();
  const proto = window.location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${proto}://${window.location.host}/ws`);
  socket.onopen = () => {
    showMessage("");
    const fromUrl = parseHash();
    if (Object.keys(fromUrl).length) change(fromUrl);
  };
  socket.onmessage = (event) => {
    let msg;
    try { msg = JSON.parse(event.data); } catch (e) { showMessage("unreadable message from the server"); return; }
    onMessage(msg);
  };
  socket.onclose = () => {
    setPlaying(false);
    showMessage("the connection to the playground server closed; reconnecting...");
    setTimeout(connect, 1000);
  };
}

function onError(msg) {
  showMessage(msg.message);
  // a bad value (e.g. from the URL): drop that key and keep the rest
  const key = msg.key ? msg.key.split(".")[0] : null;
  if (key && key in pending) {
    delete pending[key];
    send({type: "config", config: pending});
  }
  if (config) writeHash();
}

// -- state: config, data points, controls ------------------------------------------------------------------
function onState(msg) {
  const hadError = !$("message").hidden;
  config = msg.config;
  info = {problem: msg.problem, classes: msg.classes};
  points = {train: msg.train, test: msg.test};
  featureNames = msg.features;
  history = [];
  setPlaying(false);
  syncControls();
  writeHash();
  if (!hadError) showMessage("");
}

function syncControls() {
  for (const id of ["learning_rate", "activation", "regularization", "regularization_rate", "loss"])
    $(id).value = String(config[id]);
  for (const id of ["train_ratio", "noise", "batch_size"]) {
    $(id).value = config[id];
    $(id + "_value").textContent = config[id];
  }
  $("seed").value = config.seed;
  $("max_epochs").value = config.max_epochs ?? "";
  $("extended").checked = config.extended;
  $("n_layers").textContent = config.hidden.length;
  for (const b of document.querySelectorAll(".datasets button"))
    b.classList.toggle("active", b.dataset.name === config.dataset);
}

function setPlaying(on) {
  playing = on;
  $("play").innerHTML = on ? "&#10074;&#10074; pause" : "&#9654; play";
}

// -- drawing -------------------------------------------------------------------------------------------------
function decode(b64) {  // heatmap bytes: base64 from the server, a Uint8Array from the worker
  if (typeof b64 !== "string") return b64;
  const s = atob(b64), out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function colour(q, discretize) {  // q in 0..255 over [-1, 1]: orange - white - blue
  let t = q / 127.5 - 1;
  if (discretize) t = t >= 0 ? 1 : -1;
  const neg = [245, 147, 34], pos = [8, 119, 189], mid = [232, 234, 235], c = t < 0 ? neg : pos, a = Math.abs(t);
  return [mid[0] + (c[0] - mid[0]) * a, mid[1] + (c[1] - mid[1]) * a, mid[2] + (c[2] - mid[2]) * a];
}

const PALETTE = [false, true].map((discretize) => Array.from({length: 256}, (_, q) => colour(q, discretize)));
const offscreen = {};

function paint(canvas, values, n, classes, confidence, discretize) {  // one byte per cell -> colours
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(n, n), data = img.data;
  const palette = PALETTE[discretize ? 1 : 0];
  for (let i = 0; i < n * n; i++) {
    let c;
    if (classes) {
      const base = CLASS_COLOURS[values[i] % CLASS_COLOURS.length], a = discretize ? 0.8 : 0.8 * confidence[i] / 255;
      c = [255 + (base[0] - 255) * a, 255 + (base[1] - 255) * a, 255 + (base[2] - 255) * a];
    } else c = palette[values[i]];
    data[4 * i] = c[0];
    data[4 * i + 1] = c[1];
    data[4 * i + 2] = c[2];
    data[4 * i + 3] = 255;
  }
  if (canvas.width === n && canvas.height === n) return ctx.putImageData(img, 0, 0);
  const off = offscreen[n] || (offscreen[n] = Object.assign(document.createElement("canvas"), {width: n, height: n}));
  off.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
}

function drawPoints(ctx, list, stroke) {
  const s = ctx.canvas.width / 12;
  for (const [x, y, label] of list) {
    let c;
    if (info.classes > 1) c = CLASS_COLOURS[label % CLASS_COLOURS.length];
    else if (info.problem === "regression") c = colour((Math.max(-1, Math.min(1, label)) + 1) * 127.5, false);
    else c = label > 0 ? [8, 119, 189] : [245, 147, 34];
    ctx.beginPath();
    ctx.arc((x + 6) * s, (6 - y) * s, 3, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`;
    ctx.fill();
    ctx.strokeStyle = stroke;
    ctx.lineWidth = 1;
    ctx.stroke();
  }
}

function drawHeatmap() {
  if (!last) return;
  const canvas = $("heatmap"), discretize = $("discretize").checked;
  if (info.classes > 1)
    paint(canvas, decode(last.output.class), last.density, true, decode(last.output.confidence), discretize);
  else paint(canvas, decode(last.output.value), last.density, false, null, discretize);
  const ctx = canvas.getContext("2d");
  drawPoints(ctx, points.train, "white");
  if ($("show_test").checked) drawPoints(ctx, points.test, "black");
}

function drawChart() {
  const canvas = $("chart"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (history.length < 2) return;
  const max = Math.max(...history.map((h) => Math.max(h.train_loss ?? 0, h.test_loss ?? 0)), 1e-9);
  for (const [key, style] of [["test_loss", "#333"], ["train_loss", "#999"]]) {
    ctx.beginPath();
    history.forEach((h, i) => {
      const x = (i / (history.length - 1)) * canvas.width, y = canvas.height - (h[key] / max) * (canvas.height - 4) - 2;
      i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
    });
    ctx.strokeStyle = style;
    ctx.lineWidth = 1.5;
    ctx.stroke();
  }
}

let netKey = null, netCanvases = [], netLines = [];

function buildNetwork(sizes, layerActs) {  // the columns, neuron canvases and weight lines: once per shape
  const net = $("net"), svg = $("links"), ns = "http://www.w3.org/2000/svg";
  for (const el of net.querySelectorAll(".col")) el.remove();
  svg.replaceChildren();
  netCanvases = [];
  netLines = [];
  const width = net.clientWidth || 600, colW = width / sizes.length, pos = {};
  sizes.forEach((n, layer) => {
    const col = document.createElement("div");
    col.className = "col";
    col.style.left = `${layer * colW + colW / 2 - 30}px`;
    col.style.width = "60px";
    const title = document.createElement("div");
    title.className = "title";
    if (layer === 0) title.textContent = "features";
    else if (layer === sizes.length - 1) title.textContent = "output";
    else {
      const h = layer - 1;
      title.innerHTML = `<button data-l="${h}" data-d="-1">&minus;</button> ${n} <button data-l="${h}" data-d="1">+</button><br>`;
      const sel = document.createElement("select");
      sel.dataset.layer = h;
      sel.innerHTML = ACTIVATIONS.map((a) => `<option${a === layerActs[h] ? " selected" : ""}>${a}</option>`).join("");
      title.appendChild(sel);
    }
    col.appendChild(title);
    for (let j = 0; j < n; j++) {
      const wrap = document.createElement("div");
      const cv = document.createElement("canvas");
      cv.className = "neuron";
      cv.width = cv.height = last.neuron_density;
      if (layer === 0) {
        wrap.className = "feature" + (config.features.includes(featureNames[j]) ? "" : " off");
        const label = document.createElement("span");
        label.textContent = featureNames[j];
        wrap.appendChild(label);
        cv.dataset.feature = featureNames[j];
        const k = config.features.indexOf(featureNames[j]);
        if (k >= 0) netCanvases.push([cv, "inputs", k]);
      } else if (layer < sizes.length - 1) {
        netCanvases.push([cv, "neurons", sizes.slice(1, layer).reduce((a, b) => a + b, 0) + j]);
      } else {
        cv.width = cv.height = 40;  // the output neuron shows the decision heatmap
        netCanvases.push([cv, "output", 0]);
      }
      wrap.appendChild(cv);
      col.appendChild(wrap);
      pos[`${layer}:${j}`] = [layer * colW + colW / 2 + 20, 3.2 * 16 + 12 + j * 52 + 20];
    }
    net.appendChild(col);
  });
  net.style.height = `${3.2 * 16 + 12 + Math.max(...sizes) * 52 + 10}px`;
  // weights: one line per link between active inputs and the next layer, restyled on every update
  const active = featureNames.map((f) => config.features.indexOf(f));
  for (let layer = 0; layer + 1 < sizes.length; layer++) {
    const nIn = layer === 0 ? config.features.length : sizes[layer];
    for (let i = 0; i < nIn; i++) for (let j = 0; j < sizes[layer + 1]; j++) {
      const a = pos[`${layer}:${layer === 0 ? active.indexOf(i) : i}`], b = pos[`${layer + 1}:${j}`];
      if (!a || !b) continue;
      const line = document.createElementNS(ns, "line");
      for (const [k, v] of [["x1", a[0]], ["y1", a[1]], ["x2", b[0] - 40], ["y2", b[1]], ["opacity", 0.75]]) line.setAttribute(k, v);
      line.appendChild(document.createElementNS(ns, "title"));
      svg.appendChild(line);
      netLines.push([line, layer, i, j]);
    }
  }
}

function drawNetwork() {
  if (!last || !config) return;
  const sizes = [featureNames.length, ...config.hidden, info.classes > 1 ? info.classes : 1];
  const layerActs = config.layer_activations || config.hidden.map(() => config.activation);
  const key = JSON.stringify([sizes, config.features, layerActs, featureNames, $("net").clientWidth, last.neuron_density]);
  if (key !== netKey) {
    buildNetwork(sizes, layerActs);
    netKey = key;
  }
  for (const [cv, kind, k] of netCanvases) {
    if (kind === "output") cv.getContext("2d").drawImage($("heatmap"), 0, 0, 40, 40);
    else paint(cv, decode(last[kind][k]), last.neuron_density, false, null, false);
  }
  for (const [line, layer, i, j] of netLines) {
    const w = last.weights[layer][i][j];
    line.setAttribute("stroke", w < 0 ? "#f59322" : "#0877bd");
    line.setAttribute("stroke-width", Math.min(6, 0.4 + Math.abs(w) * 2).toFixed(2));
    line.style.display = last.alive[layer][i][j] ? "" : "none";
    line.firstChild.textContent = w.toFixed(3);
  }
  $("n_weights").textContent = last.weights.reduce((s, W) => s + W.length * (W[0] ? W[0].length : 0), 0);
}

function onUpdate(msg) {
  last = msg;
  window.dllab.updates++;
  if (msg.epoch === 0) history = [];
  if (!history.length || history[history.length - 1].epoch !== msg.epoch)
    history.push({epoch: msg.epoch, train_loss: msg.train_loss, test_loss: msg.test_loss});
  if (history.length > 600) history = history.filter((_, i) => i % 2 === 0);
  if (msg.done) setPlaying(false);
  // drawn at once, not at the next animation frame: canvases and text take every update, the screen shows the
  // latest at each refresh, and training is not held to the display's 60 Hz
  $("epoch").textContent = String(msg.epoch).padStart(6, "0");
  $("train_loss").textContent = msg.train_loss == null ? "-" : msg.train_loss.toFixed(3);
  $("test_loss").textContent = msg.test_loss == null ? "-" : msg.test_loss.toFixed(3);
  $("accuracy").textContent = msg.test_acc == null ? "" : ` · test accuracy ${(100 * msg.test_acc).toFixed(1)}%`;
  $("regions").textContent = msg.regions ? `${msg.regions.regions} (${msg.regions.method})` : "n/a";
  drawHeatmap();  // first: the output neuron copies it
  drawChart();
  drawNetwork();
  window.dllab.rendered++;
  if (playing) send({type: "ack"});
}

// -- controls ------------------------------------------------------------------------------------------------
function fill(select, values) {
  select.innerHTML = values.map((v) => `<option value="${v}">${v}</option>`).join("");
}

function setup() {
  fill($("learning_rate"), LEARNING_RATES);
  fill($("regularization_rate"), REG_RATES);
  for (const name of DATASETS) {
    const b = document.createElement("button");
    b.dataset.name = name;
    b.textContent = name;
    b.onclick = () => change({dataset: name});
    $("datasets").appendChild(b);
  }
  for (const id of ["learning_rate", "regularization_rate"]) $(id).onchange = (e) => change({[id]: Number(e.target.value)});
  for (const id of ["activation", "regularization", "loss"])
    $(id).onchange = (e) => change(id === "activation" ? {activation: e.target.value, layer_activations: null} : {[id]: e.target.value});
  for (const id of ["train_ratio", "noise", "batch_size"]) {
    $(id).oninput = (e) => { $(id + "_value").textContent = e.target.value; };
    $(id).onchange = (e) => change({[id]: Number(e.target.value)});
  }
  $("seed").onchange = (e) => change({seed: Number(e.target.value)});
  $("max_epochs").onchange = (e) => change({max_epochs: e.target.value === "" ? null : Number(e.target.value)});
  $("extended").onchange = (e) => change({extended: e.target.checked});
  $("play").onclick = () => { setPlaying(!playing); send({type: playing ? "play" : "pause"}); };
  $("step").onclick = () => { setPlaying(false); send({type: "step"}); };
  $("reset").onclick = () => { setPlaying(false); history = []; send({type: "reset"}); };
  $("regenerate").onclick = () => send({type: "regenerate"});
  $("add_layer").onclick = () => change({hidden: [...config.hidden, 2], layer_activations: null});
  $("remove_layer").onclick = () => change({hidden: config.hidden.slice(0, -1), layer_activations: null});
  $("net").addEventListener("click", (e) => {
    const t = e.target;
    if (t.dataset && t.dataset.d) {
      const hidden = [...config.hidden], l = Number(t.dataset.l);
      hidden[l] = hidden[l] + Number(t.dataset.d);
      change({hidden});
    } else if (t.dataset && t.dataset.feature) {
      const f = t.dataset.feature, on = config.features.includes(f);
      change({features: on ? config.features.filter((x) => x !== f) : [...config.features, f]});
    }
  });
  $("net").addEventListener("change", (e) => {
    if (e.target.dataset && e.target.dataset.layer !== undefined) {
      const acts = config.layer_activations ? [...config.layer_activations] : config.hidden.map(() => config.activation);
      acts[Number(e.target.dataset.layer)] = e.target.value;
      change({layer_activations: acts});
    }
  });
  $("show_test").onchange = drawHeatmap;
  $("discretize").onchange = drawHeatmap;
  $("csv").onchange = async (e) => {
    const file = e.target.files[0];
    if (file) send({type: "csv", text: await file.text()});
    e.target.value = "";
  };
  $("export").onclick = () => {
    const blob = new Blob([JSON.stringify(config, null, 2)], {type: "application/json"});
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "playground-config.json";
    a.click();
  };
  $("import").onchange = async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    try { change(JSON.parse(await file.text())); } catch (err) { showMessage(`the file is not valid JSON: ${err.message}`); }
  };
  const presets = STATIC ? Promise.resolve(window.DLLAB_PRESETS) : fetch("/api/presets").then((r) => r.json());
  presets.then((presets) => {
    for (const [name, p] of Object.entries(presets)) {
      const o = document.createElement("option");
      o.value = name;
      o.textContent = name;
      $("presets").appendChild(o);
    }
    $("presets").onchange = (e) => {
      const p = presets[e.target.value];
      if (!p) return;
      $("preset_why").textContent = p.why;
      change(Object.assign({layer_activations: null}, p.config));
    };
  });
  window.addEventListener("resize", drawNetwork);
  // an edited or pasted URL: apply its configuration (our own URL updates use replaceState, which fires nothing)
  window.addEventListener("hashchange", () => change(parseHash()));
  connect();
}

setup();

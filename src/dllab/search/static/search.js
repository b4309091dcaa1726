"use strict";
// The search page: every request goes to the JSON API; errors are shown on the page, never swallowed.
const $ = (id) => document.getElementById(id);
let gallerySeed = 0;

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function api(url, options) {
  const response = await fetch(url, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const detail = body && body.detail;
    const error = new Error(Array.isArray(detail)  // FastAPI's 422: one entry per bad parameter
      ? detail.map((d) => `${(d.loc || []).slice(-1)[0]}: ${d.msg}`).join("; ")
      : typeof detail === "string" ? detail : `request failed (${response.status})`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function params() {
  return new URLSearchParams({ k: $("k").value, encoder: $("encoder").value, index: $("index").value });
}

function card(hit) {
  const div = document.createElement("div");
  div.className = "card";
  const img = document.createElement("img");
  img.src = `/img/${hit.id}.png`;
  img.alt = hit.label;
  const label = document.createElement("div");
  label.className = "label";
  label.textContent = hit.label;
  div.append(img, label);
  if (hit.distance !== undefined) {
    const d = document.createElement("div");
    d.className = "dist";
    d.textContent = `distance ${hit.distance.toFixed(3)}`;
    div.append(d);
  }
  const more = document.createElement("button");
  more.type = "button";
  more.textContent = "more like this";
  more.addEventListener("click", () => similar(hit.id, hit.label));
  div.append(more);
  return div;
}

function render(title, body, seconds) {
  $("results-title").textContent = title;
  $("results").replaceChildren(...body.results.map(card));
  const partial = body.of ? ` (over the ${body.searched.toLocaleString()} of ${body.of.toLocaleString()} images embedded so far)` : "";
  $("status").textContent = `${body.results.length} results in ${(seconds * 1000).toFixed(0)} ms${partial}`;
  showError("");
}

let waiting = null;  // a query made while the index is being built: it runs once images are embedded

async function run(title, request) {
  const t0 = performance.now();
  try {
    const body = await request();
    render(title, body, (performance.now() - t0) / 1000);
  } catch (e) {
    if (e.status === 503) {  // still building: say so once (the progress line is above), and retry when it can
      waiting = () => run(title, request);
      $("status").textContent = "This search runs as soon as the first images are embedded.";
      showError("");
      watchBuild().catch((err) => showError(err.message));
    } else showError(e.message);
  }
}

function search(q) {
  const p = params();
  p.set("q", q);
  history.replaceState(null, "", `?${p}`);
  return run(`Results for "${q}"`, () => api(`/api/search?${p}`));
}

function similar(id, label) {
  return run(`More like image ${id} (${label})`, () => api(`/api/similar/${id}?${params()}`));
}

async function gallery() {
  try {
    const body = await api(`/api/gallery?n=24&seed=${gallerySeed}`);
    $("gallery").replaceChildren(...body.results.map(card));
  } catch (e) {
    showError(e.message);
  }
}

function showBuild(status) {  // what a fresh server is building: a line and a bar, until it is ready
  const box = $("build");
  box.hidden = status.state === "ready";
  $("build-text").textContent = status.message;
  $("build-bar").hidden = !status.total;
  if (status.total) { $("build-bar").max = status.total; $("build-bar").value = status.done; }
}

function applyInfo(info) {
  const n = info.n_images === null ? "" : `${info.n_images.toLocaleString()} images, ${info.n_labels} labels. `;
  $("source").textContent = `${n}${info.source}`;
  for (const [select, values] of [["encoder", info.encoders], ["index", info.indexes]]) {
    const keep = $(select).value;
    if ([...$(select).options].map((o) => o.value).join() !== values.join()) {
      $(select).replaceChildren(...values.map((v) => new Option(v, v)));
      if (values.includes(keep)) $(select).value = keep;
    }
  }
  $("k").max = info.max_k;
  showBuild(info.status);
}

let watching = false, galleryShown = false;

async function watchBuild() {  // poll while the server builds; the gallery appears once the images are loaded
  if (watching) return;
  watching = true;
  try {
    for (;;) {
      const info = await api("/api/info");
      applyInfo(info);
      if (!galleryShown && info.n_images !== null) { galleryShown = true; await gallery(); }
      if (waiting && (info.status.state !== "building" || Object.values(info.status.indexed).some((n) => n > 0))) {
        const retry = waiting;
        waiting = null;
        await retry();
      }
      if (info.status.state !== "building") return;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  } finally {
    watching = false;
  }
}

async function init() {
  const url = new URLSearchParams(location.search);
  $("query-form").addEventListener("submit", (event) => {
    event.preventDefault();
    search($("q").value);
  });
  $("upload").addEventListener("change", () => {
    const file = $("upload").files[0];
    if (file) run(`Images like ${file.name}`, () => api(`/api/search-image?${params()}`, { method: "POST", body: file }));
  });
  $("shuffle").addEventListener("click", () => { gallerySeed += 1; gallery(); });
  const info = await api("/api/info");
  applyInfo(info);
  for (const key of ["k", "encoder", "index"]) if (url.get(key)) $(key).value = url.get(key);
  if (info.status.state === "building") watchBuild().catch((e) => showError(e.message));
  else { galleryShown = true; await gallery(); }
  if (url.get("q")) { $("q").value = url.get("q"); await search(url.get("q")); }
}

init().catch((e) => showError(`the page could not start: ${e.message}`));

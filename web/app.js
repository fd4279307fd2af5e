// The page: it only draws and talks to worker.js, where Fovea (wasm) does all the compute.
// Requests are one in flight per kind; a newer request of a busy kind waits and replaces
// any older waiting one.

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const AUTOSTART = Math.max(0, parseInt(params.get("autostart") || "0", 10) || 0);
const DEVICE = params.get("device") || "best";
const VIS_N = parseInt(params.get("n") || (AUTOSTART ? "200" : "500"), 10);
const FILTER_EVERY = 50;
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

const state = {
  classes: [], short: [], pixels: null, labels: null, ready: false,
  trainer: false, running: false, step: 0, batches: 0, epoch: 0,
  losses: [], speeds: [], accs: [], lastEval: null,
  sel: { test: 0 }, drawing: null, drawn: false,
  pca: null, tsne: null, mistakes: [], nb: { feat: null, pix: null },
  uploaded: null, layers: [],
};

// ---------- status line ----------
// Milliseconds since the page began loading: device open, data decoded, model built, first
// training step reported (read by the page test for its figures).
const marks = {};
const mark = (name) => { if (marks[name] === undefined) marks[name] = performance.now(); };
let errorShown = false;
function status(text) {
  if (errorShown) return;
  const el = $("status");
  el.textContent = text;
  el.className = "status";
}
function showError(where, message) {
  const el = $("status");
  el.textContent = `${where}: ${message}`;
  el.title = el.textContent + "\n(click to clear)";
  el.className = "status error";
  errorShown = true;
}
$("status").addEventListener("click", () => { errorShown = false; status(""); });
window.addEventListener("error", (e) => showError("page", e.message));
window.addEventListener("unhandledrejection", (e) => showError("page", String(e.reason)));

// ---------- worker and requests ----------
const worker = new Worker("worker.js", { type: "module" });
worker.addEventListener("error", (e) => {
  showError("worker", `${e.message || "failed to start"} (is web/pkg/ built? run \`make web\`)`);
});
const inflight = {}, waiting = {};
function request(kind, msg, transfer = []) {
  if (inflight[kind]) { waiting[kind] = [msg, transfer]; return; }
  inflight[kind] = true;
  worker.postMessage({ ...msg, kind }, transfer);
}
function settle(kind) {
  inflight[kind] = false;
  const w = waiting[kind];
  if (w) { delete waiting[kind]; request(kind, ...w); }
  if (showcasing && !Object.values(inflight).some(Boolean)) {
    showcasing = false;
    window.__done = true; // for scripted screenshots
    if (!errorShown) status(`autostart: ${state.step} steps and one of each visualisation done`);
  }
}
let showcasing = false;
function send(type, extra = {}) { worker.postMessage({ type, ...extra }); }

// ---------- drawing helpers ----------
const scratch = document.createElement("canvas");
function putRgba(canvas, width, height, rgba, fit = true) {
  scratch.width = width; scratch.height = height;
  scratch.getContext("2d").putImageData(new ImageData(rgba, width, height), 0, 0);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  let s = Math.min(canvas.width / width, canvas.height / height);
  // whole-pixel scaling when it costs little room
  if (s >= 1 && fit && Math.floor(s) >= 0.8 * s) s = Math.floor(s);
  const w = width * s, h = height * s;
  ctx.drawImage(scratch, 0, 0, width, height, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
}
const thumbCanvas = document.createElement("canvas");
thumbCanvas.width = thumbCanvas.height = 28;
const thumbData = new ImageData(28, 28);
function grayToThumb(bytes) {
  const d = thumbData.data;
  for (let i = 0; i < 784; i++) { d[4 * i] = d[4 * i + 1] = d[4 * i + 2] = bytes[i]; d[4 * i + 3] = 255; }
  thumbCanvas.getContext("2d").putImageData(thumbData, 0, 0);
  return thumbCanvas;
}
function drawThumb(ctx, bytes, x, y, size) {
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(grayToThumb(bytes), x, y, size, size);
}
const testImage = (i) => state.pixels.subarray(i * 784, (i + 1) * 784);
function clearCanvas(c, text) {
  const ctx = c.getContext("2d");
  ctx.fillStyle = "#f7f8fb";
  ctx.fillRect(0, 0, c.width, c.height);
  if (text) {
    ctx.fillStyle = "#9aa2b2"; ctx.font = "12px system-ui"; ctx.textAlign = "center";
    ctx.fillText(text, c.width / 2, c.height / 2);
    ctx.textAlign = "left";
  }
}

// A small line chart; `xs` optional (defaults to 1..n).
function chart(canvas, ys, { title, color, fmt = (v) => v.toFixed(3), axisFmt = null, min = null, max = null,
  xs = null, dots = false, smooth = 0, xlabel = "" }) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, L = 36, R = 6, T = 14, B = 12;
  ctx.clearRect(0, 0, W, H);
  ctx.font = "10px system-ui"; ctx.fillStyle = "#1d2330";
  ctx.fillText(title, L, 10);
  if (!ys.length) {
    ctx.fillStyle = "#9aa2b2"; ctx.fillText("no data yet", L + 60, H / 2 + 4);
    ctx.strokeStyle = "#e2e5ec"; ctx.strokeRect(L, T, W - L - R, H - T - B);
    return;
  }
  const last = ys[ys.length - 1];
  ctx.textAlign = "right"; ctx.fillStyle = color;
  ctx.fillText(`${fmt(last)}${xlabel}`, W - R, 10); ctx.textAlign = "left";
  let lo = min ?? Math.min(...sample(ys, 400)), hi = max ?? Math.max(...sample(ys, 400));
  if (hi - lo < 1e-9) { hi += 0.5; lo -= 0.5; }
  const n = xs ? xs[xs.length - 1] : ys.length;
  const x0 = xs ? Math.min(xs[0], 1) : 1;
  const px = (i) => L + (W - L - R) * (n === x0 ? 0.5 : ((xs ? xs[i] : i + 1) - x0) / (n - x0));
  const py = (v) => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
  ctx.strokeStyle = "#e2e5ec"; ctx.strokeRect(L, T, W - L - R, H - T - B);
  ctx.fillStyle = "#6b7385";
  ctx.textAlign = "right";
  const af = axisFmt || fmt;
  ctx.fillText(af(hi), L - 3, T + 8); ctx.fillText(af(lo), L - 3, H - B);
  ctx.textAlign = "left";
  ctx.fillText(`${n}`, W - R - ctx.measureText(`${n}`).width, H - 1);
  const stride = Math.max(1, Math.floor(ys.length / (W - L - R)));
  const line = (vals, style, width) => {
    ctx.strokeStyle = style; ctx.lineWidth = width; ctx.beginPath();
    for (let i = 0; i < vals.length; i += stride) {
      const x = px(i), y = py(vals[i]);
      i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
    }
    ctx.stroke(); ctx.lineWidth = 1;
  };
  if (smooth && ys.length > 5) {
    line(ys, color + "40", 1);
    const sm = []; let e = ys[0];
    for (const v of ys) { e = smooth * e + (1 - smooth) * v; sm.push(e); }
    line(sm, color, 1.6);
  } else {
    line(ys, color, 1.6);
  }
  if (dots) {
    ctx.fillStyle = color;
    ys.forEach((v, i) => { ctx.beginPath(); ctx.arc(px(i), py(v), 3, 0, 7); ctx.fill(); });
  }
}
function sample(a, k) {
  if (a.length <= k) return a;
  const out = [], s = a.length / k;
  for (let i = 0; i < k; i++) out.push(a[Math.floor(i * s)]);
  return out.concat(a.slice(-20));
}

let chartsPending = false;
function drawCharts() {
  if (chartsPending) return;
  chartsPending = true;
  requestAnimationFrame(() => {
    chartsPending = false;
    chart($("lossChart"), state.losses, { title: "training loss (per step)", color: "#2f6fde", smooth: 0.9 });
    const accs = state.accs.map((a) => a.acc);
    chart($("accChart"), accs, {
      title: "test accuracy (per epoch)", color: "#1b7f3b", dots: true,
      xs: state.accs.map((a) => a.epoch), fmt: (v) => `${(v * 100).toFixed(1)}%`, axisFmt: (v) => `${(v * 100).toFixed(0)}%`,
      min: accs.length ? Math.max(0, Math.floor(Math.min(...accs) * 10 - 0.5) / 10) : 0, max: 1,
    });
    chart($("speedChart"), state.speeds, {
      title: "images/s", color: "#c0580b", min: 0, smooth: 0.8, fmt: (v) => v.toFixed(0),
    });
  });
}

// ---------- device ----------
function showDevice(r) {
  const el = $("device");
  if (r.backend === "cpu" || r.fallback_reason) {
    el.className = "badge cpu";
    el.textContent = r.fallback_reason
      ? `CPU fallback: ${r.fallback_reason}`
      : `CPU backend (wasm)${DEVICE === "cpu" ? ", asked for by ?device=cpu" : ""}`;
  } else {
    el.className = "badge gpu";
    el.textContent = `WebGPU: ${r.adapter || "adapter"}${r.software ? " (software)" : ""}`;
  }
  el.title = JSON.stringify({ backend: r.backend, adapter: r.adapter, device_type: r.device_type,
    software: r.software, fallback_reason: r.fallback_reason }, null, 1);
}

// ---------- model controls ----------
const controls = ["model", "optimizer", "lr", "schedule", "batch", "epochs", "trainImages", "arch"];
let lrTouched = false;
$("lr").addEventListener("input", () => { lrTouched = true; });
$("optimizer").addEventListener("change", () => {
  if (!lrTouched) $("lr").value = $("optimizer").value === "sgd" ? "0.01" : "0.001";
});
$("model").addEventListener("change", () => {
  $("archBox").hidden = $("model").value !== "arch";
  updateLayers();
});
$("arch").addEventListener("input", () => { $("archError").textContent = ""; updateLayers(); });

function settings() {
  const s = {
    optimizer: $("optimizer").value,
    lr: parseFloat($("lr").value),
    schedule: $("schedule").value,
    batch_size: parseInt($("batch").value, 10),
    epochs: parseInt($("epochs").value, 10),
    seed: 0,
  };
  if ($("model").value === "arch") s.arch = $("arch").value;
  else s.model = $("model").value;
  if (s.optimizer === "adamw") s.weight_decay = 0.01;
  return s;
}

// Layer names with a spatial map, as fovea-models names them.
function layerNames() {
  const m = $("model").value;
  if (m === "net") return ["conv1", "relu1", "pool"];
  if (m === "vgg-small" || m === "vgg-small-bn") {
    const bn = m.endsWith("-bn"), out = [];
    for (const b of [1, 2]) {
      for (const c of [1, 2]) {
        out.push(`conv${b}_${c}`);
        if (bn) out.push(`bn${b}_${c}`);
        out.push(`relu${b}_${c}`);
      }
      out.push(`pool${b}`);
    }
    return out;
  }
  // An arch spec: mirror crates/models/src/spec.rs's naming up to the first flatten/linear.
  const items = $("arch").value.split("\n").map((l) => l.replace(/#.*$/, "")).join(",")
    .split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  let block = 1, conv = 0, last = null;
  const out = [];
  for (const item of items) {
    const w = item.split(/\s+/)[0];
    if (w === "linear" || w === "flatten") break;
    if (w === "conv") { conv++; out.push(`conv${block}_${conv}`); last = `${block}_${conv}`; }
    else if (w === "bn") out.push(`bn${last ?? "0"}`);
    else if (w === "relu") out.push(`relu${last ?? "0"}`);
    else if (w === "dropout") out.push(`dropout${block}`);
    else if (w === "pool" || w === "avgpool") { out.push(`pool${block}`); block++; conv = 0; }
    else if (w === "adaptiveavgpool") out.push("avgpool");
  }
  return out;
}
function updateLayers() {
  const sel = $("layer"), prev = sel.value;
  state.layers = layerNames();
  sel.innerHTML = state.layers.map((n) => `<option>${n}</option>`).join("");
  const relu = state.layers.find((n) => n.startsWith("relu"));
  sel.value = state.layers.includes(prev) ? prev : (relu || state.layers[0] || "");
}

function setControls() {
  const has = state.trainer;
  for (const id of controls) $(id).disabled = has;
  $("start").disabled = !state.ready || state.running || inflight.create;
  $("start").textContent = has ? "Resume" : "Start";
  if (!has) $("start").textContent = "Start";
  $("pause").disabled = !state.running;
  $("reset").disabled = !has;
  for (const id of ["evalNow", "dreamBtn", "download", "patchBtn", "nbBtn", "pcaBtn", "tsneBtn"]) {
    $(id).disabled = !has;
  }
}

$("start").addEventListener("click", () => startTraining());
function startTraining() {
  if (!state.trainer) {
    $("archError").textContent = "";
    status("building the model (on WebGPU its pipelines compile first: a few seconds)…");
    request("create", { type: "create", settings: settings(), trainImages: parseInt($("trainImages").value, 10) });
    setControls();
    return;
  }
  send("start");
  state.running = true;
  setControls();
  status("training…");
}
$("pause").addEventListener("click", () => { send("pause"); status("pausing after this step…"); });
$("reset").addEventListener("click", () => {
  send("reset", { kind: "reset" });
  for (const k of Object.keys(inflight)) inflight[k] = false;
  for (const k of Object.keys(waiting)) delete waiting[k];
  Object.assign(state, {
    trainer: false, running: false, step: 0, losses: [], speeds: [], accs: [], lastEval: null,
    pca: null, tsne: null, mistakes: [], nb: { feat: null, pix: null },
  });
  $("progress").textContent = "reset: change the settings and press Start";
  $("progressBar").style.width = "0";
  resetPanels();
  setControls();
  drawCharts();
});

function resetPanels() {
  clearCanvas($("confusion"), "after the first epoch (or “evaluate now”)");
  clearCanvas($("mistakes"));
  clearCanvas($("filters"), "start training to see the filters");
  clearCanvas($("fmaps"), "start training");
  clearCanvas($("attr"), "");
  clearCanvas($("dream"), "");
  clearCanvas($("patches"), "press find");
  clearCanvas($("nbrs"), "press find");
  clearCanvas($("pca"), "press run");
  clearCanvas($("tsne"), "press run");
  $("pcaInfo").textContent = "";
  $("tsneInfo").textContent = "";
  $("attrInfo").textContent = "";
  $("patchInfo").textContent = "channels 0–7 of the feature-map layer, 6 patches each";
  $("nbInfo").textContent = "of the selected test image, by features and by pixels";
  $("dreamInfo").textContent = "10 steps at the last pooling layer, from the selected image";
  $("filtInfo").textContent = "(every 50 steps)";
  if (state.uploaded) $("predictions").textContent = "draw to see the loaded run's prediction";
  else $("predictions").textContent = "draw a piece of clothing (white on black)";
  $("predWho").textContent = "";
  $("confInfo").textContent = "(after each epoch, 1,000 test images)";
}

// ---------- selection ----------
function srcOf(sel = state.sel) {
  return sel.test !== undefined ? { test: sel.test } : { pixels: state.drawing.slice().buffer };
}
function select(sel) {
  state.sel = sel;
  showSelected();
  if (state.trainer) refreshSelected();
  drawScatters();
}
function showSelected() {
  const c = $("selThumb"), ctx = c.getContext("2d");
  if (state.sel.test !== undefined) {
    const i = state.sel.test;
    drawThumb(ctx, testImage(i), 0, 0, c.width);
    $("selInfo").textContent = `test #${i} (${state.classes[state.labels[i]]})`;
  } else {
    drawThumb(ctx, state.drawing, 0, 0, c.width);
    $("selInfo").textContent = "your drawing";
  }
}
function refreshSelected() {
  requestFeatureMaps();
  requestAttribution();
  if (state.sel.test !== undefined && state.nb.feat) requestNeighbours();
}

function requestFeatureMaps() {
  if (!state.trainer || !$("layer").value) return;
  request("featureMaps", { type: "featureMaps", src: srcOf(), layer: $("layer").value });
}
$("layer").addEventListener("change", requestFeatureMaps);

function requestAttribution() {
  if (!state.trainer) return;
  const m = $("method").value;
  $("attrInfo").textContent = `computing ${$("method").selectedOptions[0].text}…`;
  request("attribution", {
    type: "attribution", src: srcOf(), method: m, display: $("display").value,
    layer: m === "grad-cam" ? gradCamLayer() : undefined,
    sign: $("sign").value, target: $("target").value,
    samples: (m === "smoothgrad" || m === "integrated-gradients") ? (AUTOSTART ? 8 : 16) : undefined,
  });
}
for (const id of ["method", "display", "sign", "target"]) $(id).addEventListener("change", requestAttribution);

// Grad-CAM's layer: the last conv layer's activation (the API's default, the model's
// feature layer, is the flattened classifier input for the VGGs and arch specs).
function gradCamLayer() {
  const l = state.layers;
  return [...l].reverse().find((n) => n.startsWith("relu")) || [...l].reverse().find((n) => n.startsWith("conv"));
}

function requestNeighbours() {
  if (state.sel.test === undefined) {
    $("nbInfo").textContent = "neighbours need a test image: click one in the mistakes, PCA or t-SNE";
    return;
  }
  if (state.sel.test >= VIS_N) {
    $("nbInfo").textContent = `pick one of the first ${VIS_N} test images (the PCA/t-SNE points)`;
    return;
  }
  const base = { type: "neighbours", index: state.sel.test, k: 8, n: VIS_N };
  request("nbFeat", { ...base, byPixels: false });
  request("nbPix", { ...base, byPixels: true });
}
$("nbBtn").addEventListener("click", requestNeighbours);

// ---------- drawing canvas ----------
const small = document.createElement("canvas");
small.width = small.height = 28;
const sctx = small.getContext("2d", { willReadFrequently: true });
function clearDrawing() {
  sctx.fillStyle = "#000"; sctx.fillRect(0, 0, 28, 28);
  state.drawing = new Uint8Array(784);
  state.drawn = false;
  showDrawing();
}
function showDrawing() {
  const c = $("draw"), ctx = c.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, c.width, c.height);
}
function readDrawing() {
  const d = sctx.getImageData(0, 0, 28, 28).data, out = new Uint8Array(784);
  for (let i = 0; i < 784; i++) out[i] = d[4 * i];
  state.drawing = out;
}
let last = null;
function strokeTo(e) {
  const c = $("draw"), r = c.getBoundingClientRect();
  const p = { x: (e.clientX - r.left) * 28 / r.width, y: (e.clientY - r.top) * 28 / r.height };
  sctx.strokeStyle = "#fff"; sctx.lineWidth = 2.4; sctx.lineCap = sctx.lineJoin = "round";
  sctx.beginPath(); sctx.moveTo((last || p).x, (last || p).y); sctx.lineTo(p.x, p.y); sctx.stroke();
  last = p;
  showDrawing();
}
$("draw").addEventListener("pointerdown", (e) => {
  $("draw").setPointerCapture(e.pointerId); last = null; strokeTo(e);
});
$("draw").addEventListener("pointermove", (e) => {
  if (last) { strokeTo(e); readDrawing(); requestPredict(); }
});
$("draw").addEventListener("pointerup", () => {
  if (!last) return;
  last = null; state.drawn = true; readDrawing();
  requestPredict();
  select({ drawing: true });
});
$("clear").addEventListener("click", () => { clearDrawing(); $("predictions").textContent = "draw a piece of clothing (white on black)"; });
$("useDrawing").addEventListener("click", () => { readDrawing(); select({ drawing: true }); requestPredict(); });

// An upload is decoded and resized by Fovea in the worker, as `fovea predict` does; a
// picture with a light background is inverted (what `fovea predict --invert` does), since
// Fashion-MNIST's clothes are light on black.
$("upload").addEventListener("change", async (e) => {
  const f = e.target.files[0];
  e.target.value = "";
  if (!f) return;
  const bytes = await f.arrayBuffer();
  request("decode", { type: "decode", bytes, name: f.name }, [bytes]);
});
function showUpload(m) {
  const px = m.pixels;
  // The background is what the border shows; a light one is inverted.
  let border = 0;
  for (let k = 0; k < 28; k++) border += px[k] + px[27 * 28 + k] + px[k * 28] + px[k * 28 + 27];
  const invert = border / (4 * 28) > 127;
  const img = sctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const g = invert ? 255 - px[i] : px[i];
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = g;
    img.data[4 * i + 3] = 255;
  }
  sctx.putImageData(img, 0, 0);
  showDrawing(); readDrawing(); state.drawn = true;
  requestPredict(); select({ drawing: true });
  status(`uploaded ${m.name}${invert ? " (inverted to light-on-dark)" : ""}`);
}

function requestPredict() {
  if (!state.trainer && !state.uploaded) {
    $("predictions").textContent = "no model yet: press Start (or load a run)";
    return;
  }
  const px = state.drawing.slice();
  request("predict", { type: "predict", pixels: px.buffer }, [px.buffer]);
}
function top3(probs) {
  return probs.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]).slice(0, 3);
}
function showPredictions(m) {
  state.lastPrediction = m;
  const blocks = [];
  const block = (who, probs, cls) => {
    const lines = top3(probs).map(([p, i]) => `<div class="line"><span>${state.short[i]}</span>
      <div class="track"><div class="fill" style="width:${(p * 100).toFixed(1)}%"></div></div>
      <span>${(p * 100).toFixed(1)}%</span></div>`).join("");
    return `<div class="pred ${cls}"><div class="who">${who}</div>${lines}</div>`;
  };
  if (m.trained) blocks.push(block(`model training here (step ${state.step})`, m.trained, "trained"));
  if (m.uploaded) blocks.push(block(`loaded run: ${state.uploaded.name}`, m.uploaded, "uploaded"));
  $("predictions").innerHTML = blocks.join("");
  $("predictions").classList.remove("muted");
  $("predWho").textContent = m.uploaded && m.trained ? "(two models)"
    : m.uploaded ? "(loaded run predicts)" : "(trained model predicts)";
}

// ---------- confusion and mistakes ----------
function drawConfusion(ev) {
  const c = $("confusion"), ctx = c.getContext("2d"), k = ev.confusion.length;
  ctx.clearRect(0, 0, c.width, c.height);
  const L = 52, T = 4, cell = Math.floor(Math.min((c.width - L - 4) / k, (c.height - T - 40) / k));
  ctx.font = "9px system-ui";
  for (let t = 0; t < k; t++) {
    const row = ev.confusion[t], total = row.reduce((a, b) => a + b, 0) || 1;
    ctx.fillStyle = "#1d2330"; ctx.textAlign = "right";
    ctx.fillText(state.short[t], L - 4, T + t * cell + cell / 2 + 3);
    for (let p = 0; p < k; p++) {
      const v = row[p] / total;
      ctx.fillStyle = t === p ? `rgba(47,111,222,${0.08 + 0.92 * v})` : `rgba(198,40,40,${Math.min(1, v * 3)})`;
      ctx.fillRect(L + p * cell, T + t * cell, cell - 1, cell - 1);
      if (row[p]) {
        ctx.fillStyle = v > 0.5 ? "#fff" : "#1d2330"; ctx.textAlign = "center";
        ctx.fillText(String(row[p]), L + p * cell + cell / 2, T + t * cell + cell / 2 + 3);
      }
    }
  }
  ctx.save();
  ctx.fillStyle = "#1d2330"; ctx.textAlign = "right";
  for (let p = 0; p < k; p++) {
    ctx.save();
    ctx.translate(L + p * cell + cell / 2 + 3, T + k * cell + 3);
    ctx.rotate(-Math.PI / 3);
    ctx.fillText(state.short[p], 0, 0);
    ctx.restore();
  }
  ctx.restore();
  ctx.textAlign = "left"; ctx.fillStyle = "#6b7385";
  ctx.fillText("rows: true class · columns: predicted", L + k * cell + 6 > c.width - 60 ? 2 : L, c.height - 2);
  ctx.textAlign = "left";
}
function drawMistakes(ev) {
  const wrong = [];
  for (let i = 0; i < ev.predicted.length && wrong.length < 6; i++) {
    if (ev.predicted[i] !== state.labels[i]) wrong.push(i);
  }
  state.mistakes = wrong.map((i) => ({ i, p: ev.predicted[i] }));
  const c = $("mistakes"), ctx = c.getContext("2d");
  ctx.clearRect(0, 0, c.width, c.height);
  const w = c.width / 6;
  ctx.font = "9px system-ui"; ctx.textAlign = "center";
  state.mistakes.forEach(({ i, p }, j) => {
    drawThumb(ctx, testImage(i), j * w + (w - 36) / 2, 0, 36);
    ctx.fillStyle = "#1b7f3b"; ctx.fillText(state.short[state.labels[i]], j * w + w / 2, 47);
    ctx.fillStyle = "#c62828"; ctx.fillText(`→ ${state.short[p]}`, j * w + w / 2, 58);
  });
  ctx.textAlign = "left";
  if (!wrong.length) clearCanvas(c, "no mistakes");
}
$("mistakes").addEventListener("click", (e) => {
  const c = $("mistakes"), r = c.getBoundingClientRect();
  const j = Math.floor((e.clientX - r.left) / r.width * 6);
  if (state.mistakes[j]) select({ test: state.mistakes[j].i });
});
function showEvaluation(ev, label) {
  state.lastEval = ev;
  drawConfusion(ev);
  drawMistakes(ev);
  $("confInfo").textContent = `${label}: accuracy ${(ev.acc * 100).toFixed(1)}%, loss ${ev.loss.toFixed(3)}`;
}
$("evalNow").addEventListener("click", () => request("evaluate", { type: "evaluate" }));

// ---------- filters / patches / dream / scatter ----------
function requestFilters() { if (state.trainer) request("filters", { type: "filters", step: state.step }); }
function requestPatches() {
  const layer = $("layer").value;
  $("patchInfo").textContent = `searching the first ${VIS_N} test images at ${layer}…`;
  request("patches", { type: "patches", layer, channels: [0, 1, 2, 3, 4, 5, 6, 7], k: 6, n: VIS_N });
}
$("patchBtn").addEventListener("click", requestPatches);
function requestDream() {
  $("dreamInfo").textContent = "dreaming (10 steps)…";
  request("dream", { type: "dream", src: srcOf(), steps: 10 });
}
$("dreamBtn").addEventListener("click", requestDream);
function requestPca() {
  $("pcaInfo").textContent = `features of ${VIS_N} test images…`;
  request("pca", { type: "pca", n: VIS_N });
}
$("pcaBtn").addEventListener("click", requestPca);
function requestTsne() {
  $("tsneInfo").textContent = `features of ${VIS_N} test images…`;
  request("tsne", { type: "tsne", n: VIS_N, iterations: AUTOSTART ? 300 : 500 });
}
$("tsneBtn").addEventListener("click", requestTsne);

function drawNeighbours() {
  const c = $("nbrs"), ctx = c.getContext("2d");
  ctx.clearRect(0, 0, c.width, c.height);
  const q = state.sel.test, size = 32, gap = 4, x0 = 44;
  ctx.font = "9px system-ui";
  const rows = [["features", state.nb.feat], ["pixels", state.nb.pix]];
  state.nbHits = [];
  rows.forEach(([name, found], r) => {
    const y = 8 + r * 84;
    ctx.fillStyle = "#1d2330"; ctx.fillText(`by ${name}`, 0, y + 8);
    if (!found) return;
    drawThumb(ctx, testImage(found.index), 0, y + 14, size);
    ctx.strokeStyle = "#2f6fde"; ctx.lineWidth = 2; ctx.strokeRect(0, y + 14, size, size); ctx.lineWidth = 1;
    found.found.forEach(([i, d], j) => {
      const col = j % 4, row = Math.floor(j / 4), x = x0 + col * (size + 37 + gap), yy = y + 14 + row * (size + 3);
      drawThumb(ctx, testImage(i), x, yy, size);
      const same = state.labels[i] === state.labels[found.index];
      ctx.fillStyle = same ? "#1b7f3b" : "#c62828";
      ctx.fillText(state.short[state.labels[i]], x + size + 2, yy + 12);
      ctx.fillStyle = "#6b7385";
      ctx.fillText(d.toFixed(1), x + size + 2, yy + 24);
      state.nbHits.push({ x, y: yy, s: size, i });
    });
  });
  if (q !== undefined) $("nbInfo").textContent = `test #${q}: green = same class; numbers are L2 distances`;
}
$("nbrs").addEventListener("click", (e) => {
  const c = $("nbrs"), r = c.getBoundingClientRect();
  const x = (e.clientX - r.left) * c.width / r.width, y = (e.clientY - r.top) * c.height / r.height;
  const h = (state.nbHits || []).find((h) => x >= h.x && x < h.x + h.s && y >= h.y && y < h.y + h.s);
  if (h) select({ test: h.i });
});

// Scatter plots with a legend, points clickable.
const scatterGeom = {};
function drawScatter(id, pts) {
  const c = $(id), ctx = c.getContext("2d"), W = c.width, H = c.height;
  ctx.clearRect(0, 0, W, H);
  if (!pts) return;
  const n = pts.length / 2, LW = 78, pad = 6;
  // Robust bounds (1st to 99th percentile): one outlier does not squash the rest.
  const q = (k) => {
    const v = []; for (let i = 0; i < n; i++) v.push(pts[2 * i + k]);
    v.sort((a, b) => a - b);
    const lo = v[Math.floor(n * 0.01)], hi = v[Math.min(n - 1, Math.ceil(n * 0.99))], m = (hi - lo) * 0.04;
    return [lo - m, hi + m];
  };
  const [x0, x1] = q(0), [y0, y1] = q(1);
  const sx = (W - LW - 2 * pad) / ((x1 - x0) || 1), sy = (H - 2 * pad) / ((y1 - y0) || 1);
  const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
  const P = (i) => [clamp(pad + (pts[2 * i] - x0) * sx, 2, W - LW - 2), clamp(pad + (pts[2 * i + 1] - y0) * sy, 2, H - 2)];
  scatterGeom[id] = { n, P };
  ctx.strokeStyle = "#e2e5ec"; ctx.strokeRect(0.5, 0.5, W - LW - 1, H - 1);
  for (let i = 0; i < n; i++) {
    const [x, y] = P(i);
    ctx.fillStyle = PALETTE[state.labels[i]];
    ctx.beginPath(); ctx.arc(x, y, 2.4, 0, 7); ctx.fill();
  }
  const s = state.sel.test;
  if (s !== undefined && s < n) {
    const [x, y] = P(s);
    ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(x, y, 6, 0, 7); ctx.stroke(); ctx.lineWidth = 1;
  }
  ctx.font = "10px system-ui";
  state.short.forEach((name, k) => {
    const y = 10 + k * 14;
    ctx.fillStyle = PALETTE[k]; ctx.fillRect(W - LW + 6, y - 7, 8, 8);
    ctx.fillStyle = "#1d2330"; ctx.fillText(name, W - LW + 18, y);
  });
}
function drawScatters() {
  if (state.pca) drawScatter("pca", state.pca);
  if (state.tsne) drawScatter("tsne", state.tsne);
}
for (const id of ["pca", "tsne"]) {
  $(id).addEventListener("click", (e) => {
    const g = scatterGeom[id];
    if (!g) return;
    const c = $(id), r = c.getBoundingClientRect();
    const x = (e.clientX - r.left) * c.width / r.width, y = (e.clientY - r.top) * c.height / r.height;
    let best = -1, bd = 100;
    for (let i = 0; i < g.n; i++) {
      const [px, py] = g.P(i), d = (px - x) ** 2 + (py - y) ** 2;
      if (d < bd) { bd = d; best = i; }
    }
    if (best >= 0) select({ test: best });
  });
}

// ---------- checkpoints ----------
function download(name, blob) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob); a.download = name;
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}
$("download").addEventListener("click", () => request("checkpoint", { type: "checkpoint" }));
$("loadRun").addEventListener("change", async (e) => {
  const files = [...e.target.files];
  e.target.value = "";
  const st = files.find((f) => f.name.endsWith(".safetensors"));
  const js = files.find((f) => f.name.endsWith(".json"));
  if (!st || !js) {
    showError("load run", "pick both files at once: the .safetensors and its run.json");
    return;
  }
  const bytes = await st.arrayBuffer(), text = await js.text();
  $("ckptInfo").textContent = `loading ${st.name}…`;
  request("loadRun", { type: "loadRun", safetensors: bytes, runJson: text }, [bytes]);
});

const dur = (ms) => ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(1)} s`;

// ---------- messages from the worker ----------
const onResult = {
  create(m) {
    mark("model");
    state.trainer = true;
    status(`model ready in ${dur(m.ms)} (${m.trainImages.toLocaleString()} training images); training…`);
    updateLayers();
    send("start");
    state.running = true;
    setControls();
    requestFilters();
    refreshSelected();
    if (state.drawn || state.uploaded) requestPredict();
  },
  reset() { status("reset"); },
  evaluate(m) { showEvaluation(m.evaluation, `step ${state.step}`); status("evaluated"); },
  filters(m) {
    putRgba($("filters"), m.width, m.height, m.rgba);
    $("filtInfo").textContent = `(step ${m.step}; ${m.shape ? m.shape.join("×") : ""})`;
  },
  featureMaps(m) { putRgba($("fmaps"), m.width, m.height, m.rgba); },
  attribution(m) {
    putRgba($("attr"), m.width, m.height, m.rgba, false);
    const p = m.prob != null ? ` (p = ${m.prob.toFixed(2)})` : "";
    $("attrInfo").innerHTML = `${m.method}${m.layer ? ` at ${m.layer}` : ""}<br>target: <b>${state.classes[m.target]}</b>${p}<br>${dur(m.ms)}`;
  },
  predict(m) { showPredictions(m); },
  decode(m) { showUpload(m); },
  patches(m) {
    putRgba($("patches"), m.width, m.height, m.rgba);
    $("patchInfo").textContent = `${m.layer}: channels 0–7 (rows), strongest of ${m.n} test images`;
  },
  nbFeat(m) { state.nb.feat = m; drawNeighbours(); },
  nbPix(m) { state.nb.pix = m; drawNeighbours(); },
  pca(m) {
    state.pca = m.points;
    drawScatter("pca", m.points);
    $("pcaInfo").textContent = `${m.n} test images; explained variance ${m.ratio.map((r) => (r * 100).toFixed(1) + "%").join(", ")}`;
  },
  tsne(m) {
    state.tsne = m.positions;
    drawScatter("tsne", m.positions);
    $("tsneInfo").textContent = `${m.positions.length / 2} test images; iteration ${m.iteration}${m.done ? " (done)" : "…"}`;
    return m.done; // stays in flight until the run ends
  },
  dream(m) {
    putRgba($("dream"), m.width, m.height, m.rgba, false);
    $("dreamInfo").textContent = `10 steps at the last pooling layer (${dur(m.ms)})`;
  },
  checkpoint(m) {
    download("page.safetensors", new Blob([m.safetensors], { type: "application/octet-stream" }));
    setTimeout(() => download("run.json", new Blob([m.runJson], { type: "application/json" })), 300);
    $("ckptInfo").textContent = `saved page.safetensors (${(m.safetensors.byteLength / 1024).toFixed(0)} KiB) and run.json`;
  },
  loadRun(m) {
    state.uploaded = m;
    $("ckptInfo").textContent = `loaded run: ${m.name}${m.epochs ? `, ${m.epochs} epochs` : ""}` +
      (m.acc != null ? `, ${(m.acc * 100).toFixed(1)}% on the 1,000 test images` : "") +
      "; it predicts the drawing (right panel)";
    status("run loaded");
    requestPredict();
  },
};

worker.onmessage = ({ data: m }) => {
  switch (m.type) {
    case "status": status(m.text); break;
    case "log": if (m.level === "error") showError("fovea", m.text); else status(m.text); break;
    case "device": mark("device"); showDevice(m.report); break;
    case "data":
      mark("data");
      Object.assign(state, { classes: m.classes, pixels: m.pixels, labels: m.labels, ready: true });
      state.short = m.classes.map((c) => c.replace("Ankle boot", "Boot").split("/")[0]);
      $("target").innerHTML = `<option value="pred">target: predicted</option>` +
        m.classes.map((c, i) => `<option value="${i}">target: ${c}</option>`).join("");
      status(`ready: ${m.trainLength.toLocaleString()} training images, ${m.labels.length} test images`);
      $("progress").textContent = "press Start to train";
      showSelected();
      setControls();
      if (AUTOSTART) autostart();
      break;
    case "step": {
      mark("firstStep");
      const r = m.report;
      state.step = r.step; state.batches = r.batches; state.epoch = r.epoch;
      state.losses.push(r.loss); state.speeds.push(r.images_per_s);
      $("progress").textContent = `epoch ${r.epoch} · batch ${r.batch + 1}/${r.batches} · loss ${r.loss.toFixed(3)} · ` +
        `acc ${(r.acc * 100).toFixed(0)}% · ${r.images_per_s.toFixed(0)} img/s · lr ${r.lr.toPrecision(3)}`;
      $("progressBar").style.width = `${((r.batch + 1) / r.batches * 100).toFixed(1)}%`;
      drawCharts();
      if (r.step % FILTER_EVERY === 0) {
        requestFilters();
        if (state.drawn) requestPredict();
      }
      if (AUTOSTART && r.step >= AUTOSTART && state.running) { send("pause"); }
      break;
    }
    case "epoch":
      state.accs.push({ epoch: m.row.epoch, acc: m.row.test_acc });
      drawCharts();
      showEvaluation(m.evaluation, `epoch ${m.row.epoch}`);
      status(`epoch ${m.row.epoch}: test accuracy ${(m.row.test_acc * 100).toFixed(1)}% ` +
        `(train ${(m.row.train_acc * 100).toFixed(1)}%, ${m.row.images_per_s.toFixed(0)} img/s)`);
      requestFilters();
      break;
    case "finished":
      status(`done: ${m.epochs} epoch(s)`);
      break;
    case "paused":
      state.running = false;
      setControls();
      if (!errorShown && (!AUTOSTART || autostarted)) status(`paused at step ${state.step}`);
      if (state.trainer && (!AUTOSTART || autostarted)) {
        requestFilters();
        requestFeatureMaps();
        if (state.drawn) requestPredict();
      }
      if (AUTOSTART && !autostarted) { autostarted = true; showcase(); }
      break;
    case "result": {
      const f = onResult[m.kind];
      const keep = f ? f(m) === false : false;
      if (!keep) settle(m.kind);
      break;
    }
    case "error":
      settle(m.kind);
      if (m.kind === "create") {
        $("archError").textContent = m.message;
        $("archBox").hidden = $("model").value !== "arch";
        if ($("model").value !== "arch") showError("creating the model", m.message);
        else status("the model could not be built: see under the arch spec");
        setControls();
      } else if (m.kind === "train") {
        state.running = false; setControls();
        showError("training", m.message);
      } else {
        if (m.kind === "attribution") $("attrInfo").textContent = "failed: see the status line";
        showError(m.kind, m.message);
      }
      break;
    default: break;
  }
};

// ---------- autostart: ?autostart=N trains N steps then runs each visualisation once ----------
let autostarted = false;
function autostart() {
  $("batch").value = "32";
  $("epochs").value = "1";
  // one short epoch of N steps, so finishEpoch (test accuracy and confusion) runs too
  const opt = document.createElement("option");
  opt.value = String(AUTOSTART * 32);
  opt.textContent = `${AUTOSTART * 32} (autostart)`;
  $("trainImages").appendChild(opt);
  $("trainImages").value = opt.value;
  startTraining();
}
function demoDrawing() {
  // a pair of trousers, drawn as strokes
  sctx.fillStyle = "#000"; sctx.fillRect(0, 0, 28, 28);
  sctx.strokeStyle = "#fff"; sctx.lineCap = "round"; sctx.lineWidth = 4;
  sctx.beginPath();
  sctx.moveTo(10, 3); sctx.lineTo(18, 3);
  sctx.moveTo(10, 4); sctx.lineTo(9, 25);
  sctx.moveTo(18, 4); sctx.lineTo(19, 25);
  sctx.moveTo(13, 5); sctx.lineTo(15, 5);
  sctx.stroke();
  showDrawing(); readDrawing(); state.drawn = true;
}
function showcase() {
  showcasing = true;
  status(`autostart: ${state.step} steps done; running each visualisation once…`);
  demoDrawing();
  requestPredict();
  requestFilters();
  requestFeatureMaps();
  requestAttribution();
  requestNeighbours();
  requestPca();
  requestTsne();
  requestPatches();
  requestDream();
  if (!state.lastEval) request("evaluate", { type: "evaluate" });
}

// ---------- start ----------
window.__fovea = { state, inflight, marks, scatterGeom }; // read by scripted tests
clearDrawing();
updateLayers();
resetPanels();
drawCharts();
setControls();
send("init", { device: DEVICE });

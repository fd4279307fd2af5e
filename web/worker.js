// Fovea's compute: the wasm module, the datasets, the trainer and every visualisation run
// here, off the main thread. The page sends requests ({type, kind, ...}); every call on the
// trainer or an uploaded classifier goes through one queue, because the wasm objects refuse
// a second call while one is pending ("busy").
import init, {
  FoveaSession, FoveaDataset, FoveaTrainer, FoveaClassifier, decodeImage,
} from "./pkg/fovea_web.js";

const TEST_N = 1000; // the test subset every evaluation and visualisation uses

const S = {
  session: null,
  train: null, // all training images
  test: null, // the first TEST_N test images
  trainer: null,
  settings: null,
  running: false,
  looping: false,
  uploaded: null, // a FoveaClassifier loaded from a run
  tsneGen: 0,
};

const post = (msg, transfer = []) => self.postMessage(msg, transfer);
const errText = (e) => (e && e.message) ? e.message : String(e);
const tick = () => new Promise((r) => setTimeout(r, 0));

// Rust panics and other console errors reach the page's status line.
for (const level of ["error", "warn"]) {
  const orig = console[level].bind(console);
  console[level] = (...args) => {
    orig(...args);
    post({ type: "log", level, text: args.map(String).join(" ") });
  };
}

// One call at a time on the wasm objects.
let chain = Promise.resolve();
function enqueue(fn) {
  const p = chain.then(fn);
  chain = p.catch(() => {});
  return p;
}

function needTrainer() {
  if (!S.trainer) throw new Error("no model yet: press Start to create one");
  return S.trainer;
}

// The selected image, as raw bytes and as the normalised values the model sees.
function imageOf(src) {
  if (src.test !== undefined) {
    return { bytes: S.test.image(src.test), values: S.test.normalized(src.test) };
  }
  const bytes = new Uint8Array(src.pixels);
  return { bytes, values: needTrainer().normalizePixels(bytes) };
}

// A picture result ({width, height, rgba}) posted with its pixels transferred.
function postPicture(kind, r, extra = {}) {
  const rgba = r.rgba;
  post({ type: "result", kind, width: r.width, height: r.height, rgba, shape: r.shape, ...extra },
    [rgba.buffer]);
  if (typeof r.free === "function") r.free();
}

async function fetchBytes(name) {
  const r = await fetch(`data/${name}`);
  if (!r.ok) throw new Error(`data/${name}: HTTP ${r.status}; run \`make web\` to put Fashion-MNIST in web/data/`);
  return new Uint8Array(await r.arrayBuffer());
}

async function loadData() {
  post({ type: "status", text: "fetching Fashion-MNIST…" });
  const [ti, tl, vi, vl] = await Promise.all([
    "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
  ].map(fetchBytes));
  post({ type: "status", text: "decoding Fashion-MNIST…" });
  S.train = FoveaDataset.fromIdx("fashion-mnist", ti, tl);
  const testAll = FoveaDataset.fromIdx("fashion-mnist", vi, vl);
  S.test = testAll.slice(0, TEST_N);
  testAll.free();
  const n = S.test.length, pixels = new Uint8Array(n * 784), labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    pixels.set(S.test.image(i), i * 784);
    labels[i] = S.test.label(i);
  }
  post({
    type: "data", classes: S.train.classes, trainLength: S.train.length,
    pixels, labels,
  }, [pixels.buffer, labels.buffer]);
}

async function trainLoop() {
  if (S.looping) return;
  S.looping = true;
  try {
    while (S.running && S.trainer) {
      await enqueue(async () => {
        const t = S.trainer;
        if (!t || !S.running) return;
        const r = await t.step();
        post({ type: "step", report: r });
        if (t.epochDone()) {
          post({ type: "status", text: `epoch ${r.epoch} done: evaluating on ${S.test.length} test images…` });
          const e = await t.finishEpoch(S.test);
          post({ type: "epoch", row: e.row, evaluation: e.evaluation });
          if (e.row.epoch >= S.settings.epochs) {
            S.running = false;
            post({ type: "finished", epochs: e.row.epoch });
          }
        }
      });
      await tick(); // lets pause and visualisation requests in between steps
    }
  } catch (e) {
    S.running = false;
    post({ type: "error", kind: "train", message: errText(e) });
  } finally {
    S.looping = false;
    post({ type: "paused" });
  }
}

async function runTsne(m, gen) {
  const n = Math.min(m.n, S.test.length);
  const perplexity = Math.min(30, Math.floor((n - 1) / 3));
  const run = await enqueue(() => needTrainer().tsneStart(S.test, n, perplexity, m.iterations || 500));
  try {
    for (;;) {
      if (gen !== S.tsneGen) return;
      const more = run.step(10);
      const positions = run.positions();
      post({ type: "result", kind: "tsne", positions, iteration: run.iteration, done: !more },
        [positions.buffer]);
      if (!more) return;
      await tick();
    }
  } finally {
    run.free();
  }
}

function argmax(a) {
  let k = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[k]) k = i;
  return k;
}

const handlers = {
  async init(m) {
    await init();
    post({ type: "status", text: `opening device (${m.device})…` });
    S.session = await FoveaSession.open(m.device);
    post({ type: "device", report: S.session.report });
    await loadData();
  },

  create(m) {
    return enqueue(async () => {
      if (S.trainer) { S.trainer.free(); S.trainer = null; }
      S.settings = m.settings;
      const limit = Math.min(m.trainImages || S.train.length, S.train.length);
      const data = limit < S.train.length ? S.train.slice(0, limit) : S.train;
      const t0 = performance.now();
      try {
        S.trainer = await FoveaTrainer.create(S.session, m.settings, data);
      } finally {
        if (data !== S.train) data.free();
      }
      post({ type: "result", kind: "create", ms: performance.now() - t0, trainImages: limit });
    });
  },

  start() {
    needTrainer();
    S.running = true;
    trainLoop();
  },

  pause() {
    S.running = false;
  },

  reset() {
    S.running = false;
    S.tsneGen++;
    return enqueue(() => {
      if (S.trainer) { S.trainer.free(); S.trainer = null; }
      post({ type: "result", kind: "reset" });
    });
  },

  evaluate(m) {
    return enqueue(async () => {
      const e = await needTrainer().evaluate(S.test);
      post({ type: "result", kind: m.kind, evaluation: e });
    });
  },

  filters(m) {
    return enqueue(async () => postPicture(m.kind, await needTrainer().filters(null), { step: m.step }));
  },

  featureMaps(m) {
    return enqueue(async () => {
      const img = imageOf(m.src);
      postPicture(m.kind, await needTrainer().featureMaps(img.values, m.layer), { layer: m.layer });
    });
  },

  // An uploaded picture as the 28x28 grey bytes `fovea predict` would feed the net.
  decode(m) {
    const pixels = decodeImage(new Uint8Array(m.bytes), 1, 28, 28);
    post({ type: "result", kind: m.kind, pixels, name: m.name }, [pixels.buffer]);
  },

  predict(m) {
    return enqueue(async () => {
      const bytes = new Uint8Array(m.pixels);
      const out = { type: "result", kind: m.kind, trained: null, uploaded: null };
      if (S.trainer) out.trained = (await S.trainer.predictPixels(bytes, false))[0];
      if (S.uploaded) out.uploaded = (await S.uploaded.predictPixels(bytes, false))[0];
      if (!S.trainer && !S.uploaded) throw new Error("no model to predict with: start training or load a run");
      post(out);
    });
  },

  attribution(m) {
    return enqueue(async () => {
      const t = needTrainer();
      const img = imageOf(m.src);
      let target = m.target;
      let probs = null;
      if (target === "pred") {
        probs = (await t.predictPixels(img.bytes, false))[0];
        target = argmax(probs);
      }
      const opts = { method: m.method, target: Number(target), display: m.display, sign: m.sign };
      if (m.samples) opts.samples = m.samples;
      if (m.layer) opts.layer = m.layer;
      const t0 = performance.now();
      const r = await t.attribution(img.values, opts);
      postPicture(m.kind, r, { target: Number(target), method: m.method, layer: m.layer, ms: performance.now() - t0,
        prob: probs ? probs[target] : null });
    });
  },

  patches(m) {
    return enqueue(async () => {
      const n = Math.min(m.n, S.test.length);
      const r = await needTrainer().topPatches(S.test, n, m.layer, m.channels, m.k);
      postPicture(m.kind, r, { patches: r.patches, layer: m.layer, n });
    });
  },

  neighbours(m) {
    return enqueue(async () => {
      const n = Math.min(m.n, S.test.length);
      const found = await needTrainer().neighbours(S.test, n, m.index, m.k, m.byPixels);
      post({ type: "result", kind: m.kind, found, index: m.index, byPixels: m.byPixels, n });
    });
  },

  pca(m) {
    return enqueue(async () => {
      const n = Math.min(m.n, S.test.length);
      const r = await needTrainer().pca(S.test, n);
      const points = new Float32Array(r.points);
      post({ type: "result", kind: m.kind, points, ratio: r.ratio, n }, [points.buffer]);
    });
  },

  tsne(m) {
    const gen = ++S.tsneGen;
    return runTsne(m, gen);
  },

  dream(m) {
    return enqueue(async () => {
      const img = imageOf(m.src);
      const t0 = performance.now();
      const r = await needTrainer().deepDream(img.values, m.layer || null, m.steps || 10);
      postPicture(m.kind, r, { ms: performance.now() - t0 });
    });
  },

  checkpoint(m) {
    return enqueue(async () => {
      const c = await needTrainer().checkpoint();
      const bytes = c.safetensors;
      post({ type: "result", kind: m.kind, safetensors: bytes, runJson: c.runJson }, [bytes.buffer]);
    });
  },

  loadRun(m) {
    return enqueue(async () => {
      const c = FoveaClassifier.load(S.session, new Uint8Array(m.safetensors), m.runJson);
      if (S.uploaded) S.uploaded.free();
      S.uploaded = c;
      let run = {};
      try { run = JSON.parse(m.runJson); } catch { /* load() already checked it */ }
      const cfg = run.config || {};
      const name = cfg.arch ? "arch spec" : (cfg.model || "model");
      let acc = null;
      try { acc = (await c.evaluate(S.test)).acc; } catch (e) {
        post({ type: "log", level: "warn", text: `evaluating the loaded run: ${errText(e)}` });
      }
      post({ type: "result", kind: m.kind, name, epochs: run.epochs_done, acc, classes: c.classes });
    });
  },
};

self.onmessage = ({ data: m }) => {
  const h = handlers[m.type];
  const kind = m.kind || m.type;
  if (!h) {
    post({ type: "error", kind, message: `unknown request \`${m.type}\`` });
    return;
  }
  Promise.resolve()
    .then(() => h(m))
    .catch((e) => post({ type: "error", kind, message: errText(e) }));
};

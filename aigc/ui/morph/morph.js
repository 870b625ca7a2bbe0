// The morph panel (aigc/ui/morph_panel.py): range sliders over a model's ONNX graph, run in
// the browser by ONNX Runtime Web on every `input` event; the values go back to Python once,
// on `change` (release, or a key press). The graph holds all the latent math (aigc/morph.py):
// this file only fills its inputs and paints its uint8 output.
//
// A page mounts several instances that make one panel: a picture (the canvas, over the
// server's PNG) and one or more slider blocks, each where the page's own sliders would be.
// They find each other through `data.group`: Streamlit imports this module once per page (its
// blob URL is cached by content), so the Map below is shared by every instance.

const SIDE = 28;
const SCALE = 10; // as the server's pictures: 280 px, nearest-neighbour
const SLIDER_INPUTS = ["offsets", "raw_mask", "raw_values", "amount"];

let runtime; // Promise<ort>, loaded once per page from the app's own server
const sessions = new Map(); // graph URL -> Promise<InferenceSession>
const groups = new Map(); // data.group -> Group
const views = new WeakMap(); // parentElement -> Picture | Sliders

function loadRuntime(moduleUrl, wasmUrl) {
  runtime ??= import(new URL(moduleUrl, location.origin).href).then((ort) => {
    ort.env.wasm.numThreads = 1; // no SharedArrayBuffer, so no cross-origin isolation needed
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmPaths = { wasm: new URL(wasmUrl, location.origin).href };
    return ort;
  });
  return runtime;
}

function session(ort, url) {
  if (!sessions.has(url)) {
    const created = ort.InferenceSession.create(new URL(url, location.origin).href, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
    });
    created.catch(() => sessions.delete(url)); // a later mount may try again
    sessions.set(url, created);
  }
  return sessions.get(url);
}

function format(value, step) {
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  return Number(value).toFixed(digits);
}

// What every instance of one panel shares: the graph's inputs as the sliders hold them, the
// gesture in progress, and the run in flight.
class Group {
  constructor() {
    this.pictures = new Set();
    this.sliders = new Set();
    this.busy = false; // a run in flight: the next paint waits, and takes the latest values
    this.again = false;
  }

  // Python's inputs for the look it rendered; the same `stamp` is the same inputs.
  take(data) {
    if (data.stamp === this.stamp) return;
    if (this.dragging) {
      this.pending = data; // a rerun from elsewhere lands after the gesture
      return;
    }
    this.stamp = data.stamp;
    this.graphUrl = data.graph_url;
    this.feeds = Object.fromEntries(
      Object.entries(data.inputs).map(([name, v]) => [name, Float32Array.from(v)]),
    );
    // What goes back to Python: the sliders' own numbers (2.6, not float32's 2.5999999).
    this.exact = structuredClone(data.inputs);
    for (const view of this.sliders) view.sync();
    this.paint();
  }

  value(spec) {
    if (spec.input === "raw_values" && !this.exact.raw_mask[spec.index]) {
      return this.exact.z_base[spec.index]; // an untouched coordinate shows the seed's own z
    }
    return this.exact[spec.input][spec.index];
  }

  move(spec, value) {
    this.feeds[spec.input][spec.index] = this.exact[spec.input][spec.index] = value;
    if (spec.input === "raw_values") this.feeds.raw_mask[spec.index] = this.exact.raw_mask[spec.index] = 1;
    this.paint();
  }

  released() {
    this.dragging = false;
    this.pending = null; // the rerun this value starts brings fresh data
    const moved = {};
    for (const name of SLIDER_INPUTS) {
      if (name in this.exact) moved[name] = this.exact[name];
    }
    return moved;
  }

  endGesture() {
    if (!this.dragging) return;
    this.dragging = false;
    const data = this.pending;
    this.pending = null;
    if (data) this.take(data);
  }

  async paint() {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        const url = this.graphUrl;
        const run = this.sessions?.get(url);
        if (!run) return; // not loaded yet: the picture paints once it is
        const feeds = {};
        for (const [name, values] of Object.entries(this.feeds)) {
          feeds[name] = new this.ort.Tensor("float32", values.slice(), [1, values.length]);
        }
        const { pixels } = await run.run(feeds);
        if (url !== this.graphUrl) continue; // another model arrived meanwhile
        for (const picture of this.pictures) picture.draw(pixels.data, url);
      } while (this.again);
    } finally {
      this.busy = false;
    }
  }

  // Load the runtime and this graph; resolves once the graph can run.
  async load(data) {
    const ort = await loadRuntime(data.ort_url, data.wasm_url);
    const run = await session(ort, data.graph_url);
    this.ort = ort;
    this.sessions ??= new Map();
    this.sessions.set(data.graph_url, run);
  }
}

function group(name) {
  if (!groups.has(name)) groups.set(name, new Group());
  return groups.get(name);
}

// The picture: the server's PNG until the graph has painted, then the canvas in its place.
class Picture {
  constructor(parent) {
    this.root = document.createElement("div");
    this.root.className = "morph-picture";
    this.img = document.createElement("img");
    this.img.width = this.img.height = SIDE * SCALE;
    this.canvas = document.createElement("canvas");
    this.canvas.width = this.canvas.height = SIDE * SCALE;
    this.canvas.setAttribute("role", "img");
    this.canvas.dataset.frames = "0";
    this.canvas.hidden = true;
    this.small = document.createElement("canvas");
    this.small.width = this.small.height = SIDE;
    this.root.append(this.img, this.canvas);
    parent.appendChild(this.root);
  }

  update(data, setStateValue) {
    this.data = data;
    this.setStateValue = setStateValue;
    this.root.hidden = !data.show;
    if (data.png) this.img.src = data.png;
    this.img.alt = data.alt;
    this.canvas.setAttribute("aria-label", data.alt);
    this.group = group(data.group);
    this.group.pictures.add(this);
    this.showCanvas(this.paintedUrl === data.graph_url);
    this.group.take(data);
    this.group.load(data).then(
      () => { if (this.paintedUrl !== this.group.graphUrl) this.group.paint(); },
      (error) => this.fail(data.graph_url, error),
    );
  }

  showCanvas(yes) {
    this.canvas.hidden = !yes;
    this.img.hidden = yes;
    this.root.dataset.state = yes ? "ready" : "loading";
  }

  draw(pixels, url) {
    const ctx = this.small.getContext("2d");
    const image = ctx.createImageData(SIDE, SIDE);
    for (let i = 0; i < SIDE * SIDE; i++) {
      const v = pixels[i];
      image.data.set([v, v, v, 255], 4 * i);
    }
    ctx.putImageData(image, 0, 0);
    const big = this.canvas.getContext("2d");
    big.imageSmoothingEnabled = false;
    big.drawImage(this.small, 0, 0, SIDE * SCALE, SIDE * SCALE);
    const frames = Number(this.canvas.dataset.frames) + 1;
    this.canvas.dataset.frames = String(frames); // read by the browser tests
    if (frames === 1) this.canvas.dataset.firstPaintMs = String(Math.round(performance.now()));
    this.paintedUrl = url;
    if (url !== this.data.graph_url) return;
    this.showCanvas(true);
    if (this.data.report && !this.reported) {
      this.reported = true; // Python now draws its sliders here: tell it once
      this.setStateValue("ready", true);
    }
  }

  fail(url, error) {
    if (url !== this.data.graph_url || this.failed === url) return;
    this.failed = url;
    this.root.dataset.state = "failed";
    console.error("morph panel: the in-browser model did not load", error);
    this.setStateValue("failed", String(error?.message ?? error).slice(0, 200));
  }
}

// A block of range inputs, laid out `data.columns` to a row as the page's own sliders were.
class Sliders {
  constructor(parent) {
    this.root = document.createElement("div");
    this.root.className = "morph-sliders";
    parent.appendChild(this.root);
  }

  update(data, setStateValue) {
    this.setStateValue = setStateValue;
    this.group = group(data.group);
    this.group.sliders.add(this);
    this.root.style.setProperty("--columns", data.columns);
    const specs = JSON.stringify(data.sliders);
    if (specs !== this.specs) {
      this.specs = specs;
      this.build(data.sliders);
    }
    this.group.take(data);
    this.sync();
  }

  build(specs) {
    this.rows = specs.map((spec) => {
      const row = document.createElement("label");
      row.className = "morph-row";
      if (spec.help) row.title = spec.help;
      const name = document.createElement("span");
      name.textContent = spec.label;
      const out = document.createElement("output");
      const input = document.createElement("input");
      Object.assign(input, { type: "range", min: spec.min, max: spec.max, step: spec.step });
      input.setAttribute("aria-label", spec.aria || spec.label);
      row.append(name, out, input);
      input.addEventListener("pointerdown", () => { this.group.dragging = true; });
      // A press that moved nothing sends no `change`; its gesture ends here, after any
      // `change` of the same release (dispatched in the same task).
      input.addEventListener("pointerup", () => setTimeout(() => this.group.endGesture(), 0));
      input.addEventListener("input", () => {
        this.group.move(spec, Number(input.value));
        out.textContent = format(input.value, spec.step);
      });
      input.addEventListener("change", () => this.setStateValue("released", this.group.released()));
      return { spec, input, out };
    });
    this.root.replaceChildren(...this.rows.map(({ input }) => input.parentElement));
  }

  sync() {
    if (!this.rows || !this.group.exact) return;
    for (const { spec, input, out } of this.rows) {
      input.value = this.group.value(spec);
      out.textContent = format(input.value, spec.step);
    }
  }
}

export default function morphPanel({ data, parentElement, setStateValue }) {
  let view = views.get(parentElement);
  if (!view) {
    view = data.role === "picture" ? new Picture(parentElement) : new Sliders(parentElement);
    views.set(parentElement, view);
  }
  view.update(data, setStateValue);
  // Streamlit calls this on unmount, and also right away for a call that a newer one
  // overtook: only an element that left the page stops painting and syncing.
  return () => setTimeout(() => {
    if (parentElement.isConnected) return;
    const g = groups.get(data.group);
    g?.pictures.delete(view);
    g?.sliders.delete(view);
  }, 0);
}

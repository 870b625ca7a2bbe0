// The morph panel (aigc/ui/morph_panel.py): range sliders over a model's ONNX graph, run in
// the browser by ONNX Runtime Web on every `input` event; the values go back to Python once,
// on `change` (release, or a key press). The graph holds all the latent math (aigc/morph.py):
// this file only fills its inputs and paints its uint8 output.

const SIDE = 28;
const SCALE = 10; // as the server's pictures: 280 px, nearest-neighbour

let runtime; // Promise<ort>, loaded once per page from the app's own server
const sessions = new Map(); // graph URL -> Promise<InferenceSession>
const views = new WeakMap(); // parentElement -> view

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
    sessions.set(url, ort.InferenceSession.create(new URL(url, location.origin).href, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
    }));
  }
  return sessions.get(url);
}

function format(value, step) {
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  return Number(value).toFixed(digits);
}

class View {
  constructor(parent) {
    this.root = document.createElement("div");
    this.root.className = "morph";
    this.canvas = document.createElement("canvas");
    this.canvas.width = this.canvas.height = SIDE * SCALE;
    this.canvas.setAttribute("role", "img");
    this.canvas.dataset.frames = "0";
    this.small = document.createElement("canvas");
    this.small.width = this.small.height = SIDE;
    this.controls = document.createElement("div");
    this.controls.className = "morph-controls";
    this.root.append(this.canvas, this.controls);
    parent.appendChild(this.root);
    this.busy = false; // a run in flight: the next paint waits, and takes the latest values
    this.again = false;
  }

  update(data, setStateValue) {
    this.setStateValue = setStateValue;
    this.canvas.setAttribute("aria-label", data.alt);
    if (this.dragging) {
      this.pendingData = data; // a rerun from elsewhere lands after the gesture
      return;
    }
    const same = this.data && this.data.graph_url === data.graph_url &&
      JSON.stringify(this.data.sliders) === JSON.stringify(data.sliders);
    this.data = data;
    this.feeds = Object.fromEntries(
      Object.entries(data.inputs).map(([name, v]) => [name, Float32Array.from(v)]),
    );
    // What goes back to Python: the sliders' own numbers (2.6, not float32's 2.5999999).
    this.exact = structuredClone(data.inputs);
    if (same) this.syncSliders();
    else this.buildSliders();
    this.start();
  }

  buildSliders() {
    this.controls.replaceChildren();
    this.sliders = this.data.sliders.map((s) => {
      const row = document.createElement("label");
      row.className = "morph-row";
      const name = document.createElement("span");
      name.textContent = s.label;
      const input = document.createElement("input");
      Object.assign(input, { type: "range", min: s.min, max: s.max, step: s.step });
      input.setAttribute("aria-label", s.label);
      const out = document.createElement("output");
      row.append(name, input, out);
      this.controls.appendChild(row);
      input.addEventListener("pointerdown", () => { this.dragging = true; });
      // A press that moved nothing sends no `change`; its gesture ends here, after any
      // `change` of the same release (dispatched in the same task).
      input.addEventListener("pointerup", () => setTimeout(() => this.endGesture(), 0));
      input.addEventListener("input", () => this.move(s, input, out));
      input.addEventListener("change", () => this.release());
      return { spec: s, input, out };
    });
    this.syncSliders();
  }

  syncSliders() {
    for (const { spec, input, out } of this.sliders) {
      input.value = this.feeds[spec.input][spec.index];
      out.textContent = format(input.value, spec.step);
    }
  }

  move(spec, input, out) {
    const value = Number(input.value);
    this.feeds[spec.input][spec.index] = this.exact[spec.input][spec.index] = value;
    if (spec.input === "raw_values") this.feeds.raw_mask[spec.index] = this.exact.raw_mask[spec.index] = 1;
    out.textContent = format(input.value, spec.step);
    this.paint();
  }

  release() {
    this.dragging = false;
    this.pendingData = null; // the rerun this value starts brings fresh data
    const moved = {};
    for (const name of ["offsets", "raw_mask", "raw_values", "amount"]) {
      if (name in this.exact) moved[name] = this.exact[name];
    }
    this.setStateValue("released", moved);
  }

  endGesture() {
    if (!this.dragging) return;
    this.dragging = false;
    if (this.pendingData) {
      const data = this.pendingData;
      this.pendingData = null;
      this.update(data, this.setStateValue);
    }
  }

  async start() {
    try {
      const ort = await loadRuntime(this.data.ort_url, this.data.wasm_url);
      this.ort = ort;
      this.session = await session(ort, this.data.graph_url);
      this.root.dataset.state = "ready";
      this.paint();
    } catch (error) {
      this.root.dataset.state = "failed";
      console.error("morph panel: the in-browser model did not load", error);
    }
  }

  async paint() {
    if (!this.session) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        const feeds = {};
        for (const [name, values] of Object.entries(this.feeds)) {
          feeds[name] = new this.ort.Tensor("float32", values.slice(), [1, values.length]);
        }
        const { pixels } = await this.session.run(feeds);
        this.draw(pixels.data);
      } while (this.again);
    } finally {
      this.busy = false;
    }
  }

  draw(pixels) {
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
  }
}

export default function morphPanel({ data, parentElement, setStateValue }) {
  let view = views.get(parentElement);
  if (!view) {
    view = new View(parentElement);
    views.set(parentElement, view);
  }
  view.update(data, setStateValue);
}

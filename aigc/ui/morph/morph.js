// The morph panel (aigc/ui/morph_panel.py): range sliders over a model's ONNX graph, run in
// the browser by ONNX Runtime Web on every `input` event; the values go back to Python once,
// on `change` (release, or a key press). The graph holds all the latent math (aigc/morph.py):
// this file only fills its inputs and paints its uint8 output.
//
// A page mounts several instances that make one panel: a picture (the canvas, over the
// server's PNG, and the verdict under it), one or more slider blocks, each where the page's
// own sliders would be, and the page's link. A release is posted to the session's desk on the
// server (no rerun), which answers with the link for it; without a desk, or if the post
// fails, it is set as the block's state, which reruns the page.
// They find each other through `data.group`: Streamlit imports this module once per page (its
// blob URL is cached by content), so the Map below is shared by every instance.

const SIDE = 28;
const SCALE = 10; // as the server's pictures: 280 px, nearest-neighbour
const FILM_SCALE = 8; // as the interpolation's GIF
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

// A catalogue sentence with its blanks filled (morph_panel.template): {name} as it is, and
// {p|.N%} as Python's format(p, ".N%") writes it, ties to even included.
function fill(template, values) {
  return template.replace(/\{(\w+)(?:\|([^}]*))?\}/g, (_, name, spec) => {
    const share = spec && /^\.(\d+)%$/.exec(spec);
    return share ? `${fixed(values[name] * 100, Number(share[1]))}%` : String(values[name]);
  });
}

function fixed(x, digits) {
  const n = x * 10 ** digits;
  const floor = Math.floor(n);
  if (n - floor !== 0.5) return x.toFixed(digits);
  return ((floor % 2 === 0 ? floor : floor + 1) / 10 ** digits).toFixed(digits);
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
    this.links = new Set();
    this.busy = false; // a run in flight: the next paint waits, and takes the latest values
    this.again = false;
    this.seq = 0; // releases posted; the desk keeps the newest
    this.syncUrl = "";
    this.syncBroken = false; // a post failed once: releases rerun the page from then on
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

  // A release from `view` (a Sliders): to the desk, or as its state (a rerun).
  release(view) {
    this.dragging = false;
    this.pending = null; // what the server sends next is for this value
    const moved = {};
    for (const name of SLIDER_INPUTS) {
      if (name in this.exact) moved[name] = this.exact[name];
    }
    for (const picture of this.pictures) picture.settled();
    if (!this.syncUrl || this.syncBroken) {
      view.setStateValue("released", moved);
      return;
    }
    const seq = ++this.seq;
    post(this.syncUrl, seq, moved).then(
      (link) => this.linked(link, seq),
      (error) => {
        console.warn("morph panel: release not synced, rerunning instead", error);
        this.syncBroken = true;
        view.setStateValue("released", moved);
      },
    );
  }

  // The server's link for release `seq`: into the address bar and the link blocks.
  linked(link, seq) {
    if (seq !== this.seq) return; // a newer release's answer is on its way
    const url = new URL(link, location.href);
    history.replaceState(history.state, "", location.pathname + url.search + location.hash);
    for (const view of this.links) view.show(link);
    for (const picture of this.pictures) picture.root.dataset.synced = String(seq);
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
        const { pixels, probs, realness } = await run.run(feeds);
        if (url !== this.graphUrl) continue; // another model arrived meanwhile
        const verdict = { realness: realness?.data[0] ?? null };
        if (probs) {
          const p = probs.data;
          verdict.label = p.indexOf(Math.max(...p));
          verdict.confidence = p[verdict.label];
        }
        for (const picture of this.pictures) picture.draw(pixels.data, verdict, url);
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

// A release to the session's desk (aigc/ui/desks.py); resolves to the page's link for it.
async function post(url, seq, values) {
  const r = await fetch(new URL(url, location.origin).href, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ seq, values }),
    credentials: "same-origin",
  });
  if (!r.ok) throw new Error(`sync answered ${r.status}`);
  return (await r.json()).link;
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
    this.readout = document.createElement("div");
    this.readout.className = "morph-readout";
    this.readout.setAttribute("aria-live", "polite");
    this.root.append(this.img, this.canvas, this.readout);
    parent.appendChild(this.root);
  }

  update(data, setStateValue) {
    this.data = data;
    this.setStateValue = setStateValue;
    this.root.hidden = !data.show;
    // The graph's last verdict once it painted (a language switch rewrites it), else the server's.
    if (data.readout) this.judge(this.paintedUrl === data.graph_url ? this.verdict : data.readout);
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

  // The verdict's lines (the server's until the graph paints, then the graph's), as
  // widgets.readout_ui writes them.
  judge(verdict) {
    const r = this.data.readout;
    if (!r) return;
    const lines = [];
    if (verdict.label !== null && verdict.label !== undefined) {
      lines.push(fill(r.says, { name: r.names[verdict.label], p: verdict.confidence }));
    }
    if (verdict.realness !== null && verdict.realness !== undefined) {
      lines.push(fill(r.real, { p: verdict.realness }));
    }
    const text = lines.join("\n");
    if (text === this.readoutText) return;
    this.readoutText = text;
    this.readout.title = r.help;
    this.readout.replaceChildren(
      ...lines.map((line) => {
        const p = document.createElement("p");
        line.split("**").forEach((part, i) => {
          p.append(i % 2 ? Object.assign(document.createElement("strong"), { textContent: part }) : part);
        });
        return p;
      }),
    );
  }

  // A gesture ended: what the readout says now is worth a screen reader's announcement.
  settled() {
    this.readout.removeAttribute("aria-busy");
  }

  draw(pixels, verdict, url) {
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
    this.verdict = verdict;
    if (url !== this.data.graph_url) return;
    if (this.group.dragging) this.readout.setAttribute("aria-busy", "true"); // no 60 announcements a second
    this.judge(verdict);
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
    this.group.syncUrl = data.sync_url;
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
      input.addEventListener("change", () => this.group.release(this));
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

// The page's link, with a copy button; a release's answer rewrites it.
class LinkBlock {
  constructor(parent) {
    this.root = document.createElement("div");
    this.root.className = "morph-link";
    this.caption = document.createElement("p");
    this.code = document.createElement("code");
    this.button = document.createElement("button");
    this.button.type = "button";
    this.button.addEventListener("click", () => this.copy());
    const box = document.createElement("div");
    box.append(this.code, this.button);
    this.root.append(this.caption, box);
    parent.appendChild(this.root);
  }

  update(data) {
    this.data = data;
    this.group = group(data.group);
    this.group.links.add(this);
    this.caption.textContent = data.caption;
    this.button.textContent = data.copy;
    if (data.link !== this.fromServer) {
      this.fromServer = data.link; // a rerun's link is the server's newest word
      this.show(data.link);
    }
  }

  show(link) {
    this.code.textContent = link;
  }

  async copy() {
    const text = this.code.textContent;
    try {
      await navigator.clipboard.writeText(text); // only where the page is a secure context
      this.button.textContent = this.data.copied;
    } catch {
      getSelection().selectAllChildren(this.code); // the person can copy what is selected
      this.button.textContent = this.data.copy_failed;
    }
    setTimeout(() => { this.button.textContent = this.data.copy; }, 2000);
  }
}

// A scrubber over precomputed frames (morph_panel.film): the slider pages through the film,
// exact pictures the server made, with no model in the browser.
class Film {
  constructor(parent) {
    this.root = document.createElement("div");
    this.root.className = "morph-film";
    this.canvas = document.createElement("canvas");
    this.canvas.width = this.canvas.height = SIDE * FILM_SCALE;
    this.canvas.setAttribute("role", "img");
    this.canvas.dataset.frames = "0";
    const row = document.createElement("label");
    row.className = "morph-row";
    this.name = document.createElement("span");
    this.out = document.createElement("output");
    this.input = document.createElement("input");
    Object.assign(this.input, { type: "range", min: 1, step: 1 });
    row.append(this.name, this.out, this.input);
    this.root.append(this.canvas, row);
    parent.appendChild(this.root);
    this.image = new Image();
    this.image.onload = () => this.draw();
    this.seq = 0;
    this.input.addEventListener("input", () => this.draw());
    this.input.addEventListener("change", () => this.release());
  }

  update(data, setStateValue) {
    this.data = data;
    this.setStateValue = setStateValue;
    this.name.textContent = data.label;
    this.input.setAttribute("aria-label", data.label);
    this.canvas.setAttribute("aria-label", data.alt);
    this.input.max = data.frames;
    if (data.film !== this.image.getAttribute("src") || data.value !== this.fromServer) {
      this.fromServer = data.value; // a rerun's frame is the server's newest word
      this.input.value = data.value;
    }
    if (data.film !== this.image.getAttribute("src")) this.image.src = data.film;
    else this.draw();
  }

  draw() {
    const n = Number(this.input.value);
    this.out.textContent = `${n} / ${this.data.frames}`;
    if (!this.image.complete || !this.image.naturalWidth) return;
    const ctx = this.canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.image, 0, SIDE * (n - 1), SIDE, SIDE, 0, 0, this.canvas.width, this.canvas.height);
    this.canvas.dataset.frames = String(Number(this.canvas.dataset.frames) + 1); // for the tests
    this.canvas.dataset.shown = String(n);
  }

  release() {
    const values = { frame: [Number(this.input.value)] };
    if (!this.data.sync_url || this.syncBroken) {
      this.setStateValue("released", values);
      return;
    }
    const seq = ++this.seq;
    post(this.data.sync_url, seq, values).then(
      () => { if (seq === this.seq) this.root.dataset.synced = String(seq); },
      (error) => {
        console.warn("morph film: release not synced, rerunning instead", error);
        this.syncBroken = true;
        this.setStateValue("released", values);
      },
    );
  }
}

const ROLES = { picture: Picture, sliders: Sliders, link: LinkBlock, film: Film };

export default function morphPanel({ data, parentElement, setStateValue }) {
  let view = views.get(parentElement);
  if (!view) {
    view = new ROLES[data.role](parentElement);
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
    g?.links.delete(view);
  }, 0);
}

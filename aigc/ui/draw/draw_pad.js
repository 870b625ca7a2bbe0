// A drawing pad for a user's own training images (aigc/ui/draw_pad.py): dark ink on light
// paper, as a photo of a drawing would be, drawn with a mouse, a finger or a pen. Nothing
// reaches the server while drawing; "Add" sends the drawing once, as a PNG, and clears it.

const pads = new WeakMap(); // parentElement -> Pad

const SIDE = 280; // canvas pixels: ten per MNIST pixel, so the stroke keeps MNIST's weight
const INK = 22;

class Pad {
  constructor(parentElement) {
    const root = document.createElement("div");
    root.className = "draw-pad";
    this.canvas = document.createElement("canvas");
    this.canvas.width = this.canvas.height = SIDE;
    this.buttons = document.createElement("div");
    this.buttons.className = "draw-pad-buttons";
    this.add = document.createElement("button");
    this.clear = document.createElement("button");
    this.add.type = this.clear.type = "button";
    this.buttons.append(this.add, this.clear);
    root.append(this.canvas, this.buttons);
    parentElement.append(root);
    this.ctx = this.canvas.getContext("2d");
    this.drawn = false;
    this.sent = 0;
    this.wipe();
    this.canvas.addEventListener("pointerdown", (e) => this.down(e));
    this.canvas.addEventListener("pointermove", (e) => this.move(e));
    for (const end of ["pointerup", "pointercancel", "pointerleave"]) {
      this.canvas.addEventListener(end, () => (this.last = null));
    }
    this.clear.addEventListener("click", () => this.wipe());
    this.add.addEventListener("click", () => this.send());
  }

  update(data, setTriggerValue) {
    this.setTriggerValue = setTriggerValue;
    this.add.textContent = data.add;
    this.clear.textContent = data.clear;
    this.canvas.setAttribute("aria-label", data.alt);
    this.canvas.setAttribute("role", "img");
  }

  wipe() {
    this.ctx.fillStyle = "#fff";
    this.ctx.fillRect(0, 0, SIDE, SIDE);
    this.drawn = false;
    this.add.disabled = true;
  }

  at(e) {
    const box = this.canvas.getBoundingClientRect();
    return [((e.clientX - box.left) * SIDE) / box.width, ((e.clientY - box.top) * SIDE) / box.height];
  }

  down(e) {
    this.canvas.setPointerCapture(e.pointerId);
    this.last = this.at(e);
    this.stroke(this.last, this.last);
  }

  move(e) {
    if (!this.last) return;
    const p = this.at(e);
    this.stroke(this.last, p);
    this.last = p;
  }

  stroke(from, to) {
    const c = this.ctx;
    c.strokeStyle = "#111";
    c.lineWidth = INK;
    c.lineCap = c.lineJoin = "round";
    c.beginPath();
    c.moveTo(...from);
    c.lineTo(...to);
    c.stroke();
    this.drawn = true;
    this.add.disabled = false;
  }

  send() {
    if (!this.drawn) return;
    this.sent += 1; // a new value each time, so two equal drawings are two images
    this.setTriggerValue("drawn", { png: this.canvas.toDataURL("image/png"), n: this.sent });
    this.wipe();
  }
}

export default function drawPad({ data, parentElement, setTriggerValue }) {
  let pad = pads.get(parentElement);
  if (!pad) {
    pad = new Pad(parentElement);
    pads.set(parentElement, pad);
  }
  pad.update(data, setTriggerValue);
}

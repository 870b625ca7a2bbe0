// A follower's poll (aigc/ui/room.py): every `every_ms` the page asks its own server for the
// version of the teacher's view, a small JSON answer that reruns nothing; only when the
// version moves (or the room or the store answers an error) does it ask Streamlit for a rerun,
// and that rerun takes the teacher's view. A branched follower's page polls too (the room
// still sees her), but reruns only on an error, e.g. the room closing.

const watchers = new WeakMap(); // parentElement -> Watcher

class Watcher {
  constructor(parentElement) {
    this.parentElement = parentElement;
    this.asked = null; // the answer a rerun was last asked for, not to ask twice
    this.timer = null;
  }

  update(data, setTriggerValue) {
    if (this.data?.applied !== data.applied || this.data?.following !== data.following) {
      this.asked = null; // a rerun happened: the next change may ask again
    }
    this.data = data;
    this.setTriggerValue = setTriggerValue;
    if (this.timer === null) this.timer = setInterval(() => this.tick(), data.every_ms);
  }

  async tick() {
    const d = this.data;
    let seen;
    try {
      const answer = await fetch(d.url, { cache: "no-store", credentials: "same-origin" });
      const body = await answer.json();
      seen = answer.ok ? body.version : `error:${body.error}`;
    } catch {
      return; // the server is away: Streamlit's own connection notice says so
    }
    const wanted = d.following ? seen !== d.applied : typeof seen === "string";
    if (wanted && seen !== this.asked) {
      this.asked = seen;
      this.setTriggerValue("changed", seen);
    }
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }
}

export default function roomPulse({ data, parentElement, setTriggerValue }) {
  let watcher = watchers.get(parentElement);
  if (!watcher) {
    watcher = new Watcher(parentElement);
    watchers.set(parentElement, watcher);
  }
  watcher.update(data, setTriggerValue);
  // Called on unmount, and also when a newer render overtakes this one: stop only once the
  // element has left the page.
  return () =>
    setTimeout(() => {
      if (!parentElement.isConnected) watcher.stop();
    }, 0);
}

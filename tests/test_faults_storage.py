"""Storage under faults: writers in separate processes race for the store (SQLite and
PostgreSQL), and writers of a checkpoint or of the SQLite file are SIGKILLed mid-write.
Nothing committed is lost and nothing is left corrupt."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from aigc import checkpoint, feedback_store
from aigc.checkpoint import load_model
from aigc.models import VAE, VAEConfig

ROOT = Path(__file__).resolve().parent.parent


RATER = """
import sys, time
from aigc import feedback_store
who, n, start = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
while time.time() < start:
    time.sleep(0.001)
for i in range(n):
    feedback_store.add_rating(page="explore", model="gan_mnist", dataset="mnist", rating=5,
                              seed=who * 1000 + i, comment=f"process {who}")
"""


def test_concurrent_ratings_from_separate_processes_all_land(store_url):
    """Each process also migrates the new, empty database on its first rating, all at once."""
    procs, per = 6, 5
    start = time.time() + 1.0  # every process starts writing at once
    children = [
        subprocess.Popen(
            [sys.executable, "-c", RATER, str(who), str(per), str(start)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in range(procs)
    ]
    errors = [(c.wait(60), c.stderr.read()) for c in children]
    assert all(rc == 0 for rc, _ in errors), [e for _, e in errors if e]
    assert not any("locked" in e for _, e in errors)
    seeds = sorted(r.seed for r in feedback_store.list_ratings(1000))
    assert seeds == sorted(w * 1000 + i for w in range(procs) for i in range(per))


# --- SIGKILL while a checkpoint or the feedback DB is being written ----------------------

# One interpreter imports torch once (seconds on a loaded machine), then forks a fresh writer
# for each kill; it is single-threaded, so forking it is safe.
SAVER_ZYGOTE = """
import os, signal, sys
import torch
torch.set_num_threads(1)
from aigc.checkpoint import save_model
from aigc.models import VAE, VAEConfig
torch.manual_seed(0)
model = VAE(VAEConfig())
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed writers are reaped automatically
print("ready", flush=True)
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        i = 0
        while True:
            save_model(model, sys.argv[1], {"i": i})
            i += 1
    print(pid, flush=True)
"""

RATING_LOOP = """
import sys
from aigc import feedback_store
i = 0
while True:
    feedback_store.add_rating(page="p", model="m", dataset="mnist", rating=4, seed=i,
                              comment="x" * 500, path=sys.argv[1])
    i += 1
"""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_checkpoint_killed_mid_write_is_never_corrupt(tmp_path, wait_until):
    path = tmp_path / "w.safetensors"
    rng = random.Random(0)
    zygote = subprocess.Popen(
        [sys.executable, "-c", SAVER_ZYGOTE, str(path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert zygote.stdout.readline().strip() == "ready"
        saves = []
        for _ in range(6):
            zygote.stdin.write("fork\n")
            zygote.stdin.flush()
            pid = int(zygote.stdout.readline())
            time.sleep(rng.uniform(0.05, 0.6))
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda pid=pid: _gone(pid), what="the writer to die")
            if path.exists():
                _, provenance = load_model(path)  # raises WeightsError if corrupt
                saves.append(provenance["i"])
    finally:
        zygote.stdin.close()
        zygote.wait(10)
    assert saves, "no save completed before a kill: the test proved nothing"
    leftovers = sorted(p.name for p in tmp_path.glob(".w.safetensors.*.tmp"))
    print(f"completed saves seen after kills: {saves}; temp files left by kills: {len(leftovers)}")
    # The next save (a restart) sweeps temp files an earlier, killed save left behind.
    old = time.time() - 2 * checkpoint.STALE_TEMP_S
    for name in leftovers:
        os.utime(tmp_path / name, (old, old))
    checkpoint.save_model(VAE(VAEConfig()), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.safetensors"]
    load_model(path)


def _stored(db: Path) -> int:
    return len(feedback_store.list_ratings(1_000_000, path=db))


def test_the_feedback_db_survives_a_writer_killed_mid_write(tmp_path, wait_until):
    db = tmp_path / "feedback.sqlite3"
    rng = random.Random(1)
    counts = []
    for _ in range(4):
        child = subprocess.Popen([sys.executable, "-c", RATING_LOOP, str(db)], cwd=ROOT)
        before = counts[-1] if counts else 0
        # Killed only once it writes (importing SQLAlchemy and checking the schema come first).
        wait_until(
            lambda before=before: db.exists() and _stored(db) > before,
            timeout=30,
            what="the writer's first rating",
        )
        time.sleep(rng.uniform(0.1, 0.4))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        with sqlite3.connect(db) as con:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counts.append(_stored(db))
    print(f"ratings stored after each kill: {counts}")
    assert counts == sorted(counts) and counts[-1] > 0  # nothing committed was lost
    feedback_store.add_rating(page="p", model="m", dataset="mnist", rating=5, path=db)
    assert len(feedback_store.list_ratings(1_000_000, path=db)) == counts[-1] + 1

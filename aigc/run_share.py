"""A live run's view as bytes, for a class spread over several servers: the teacher's server
trains the run and writes this record to the store; a follower on another server draws it.

Only the newest snapshot and a thinned curve travel: the whole timeline (up to 16 MB) is more
than a poll twice a second should carry, and a follower watching live sees only the newest.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import zlib

import numpy as np

from aigc.runs import CurvePoint, RunView, Snapshot, Status, thin
from aigc.training import TrainConfig

SHARED_CURVE_POINTS = 400
MAX_SHARED_BYTES = 4 * 1024 * 1024  # unpacked; a record is ~100 kB unpacked, ~20 kB packed


def shared_copy(view: RunView) -> bytes:
    """The view as bytes another server can show (:func:`from_shared`)."""
    last = view.snapshots[-1] if view.snapshots else None
    record = {
        "run_id": view.run_id,
        "status": view.status.value,
        "step": view.step,
        "elapsed": view.elapsed,
        "images_per_s": view.images_per_s,
        "eta_s": view.eta_s,
        "config": dataclasses.asdict(view.config),
        "curve": [[p.step, p.elapsed, p.losses] for p in thin_to(list(view.curve))],
        "snapshot": None
        if last is None
        else {
            "step": last.step,
            "elapsed": last.elapsed,
            "score": last.score,
            "images_per_s": last.images_per_s,
            "labels": last.labels.tolist(),
            "samples": base64.b64encode(last.samples.tobytes()).decode(),
        },
    }
    return zlib.compress(json.dumps(record).encode(), 6)


def thin_to(points: list, cap: int = SHARED_CURVE_POINTS) -> list:
    while len(points) > cap:
        points = thin(points, cap)
    return points


def from_shared(data: bytes) -> RunView:
    """The view :func:`shared_copy` packed, with one snapshot (the newest) in its timeline.

    Raises:
        ValueError: the bytes are not such a record.
    """
    unpack = zlib.decompressobj()
    try:
        record = json.loads(unpack.decompress(data, MAX_SHARED_BYTES))
        if unpack.unconsumed_tail:
            raise ValueError("a shared run record is over 4 MB unpacked")
        snapshots = ()
        if (shot := record["snapshot"]) is not None:
            labels = np.asarray(shot["labels"], dtype=np.int64)
            samples = np.frombuffer(base64.b64decode(shot["samples"]), dtype=np.uint8)
            samples = samples.reshape(len(labels), 28, 28)
            snapshots = (
                Snapshot(shot["step"], shot["elapsed"], samples, labels, shot["score"],
                         shot["images_per_s"]),
            )  # fmt: skip
        return RunView(
            run_id=record["run_id"],
            status=Status(record["status"]),
            divergence=None,
            error=None,
            queue_position=None,
            wait_s=None,
            step=int(record["step"]),
            elapsed=float(record["elapsed"]),
            images_per_s=float(record["images_per_s"]),
            eta_s=record["eta_s"],
            config=TrainConfig(**record["config"]),
            curve=tuple(CurvePoint(s, e, dict(losses)) for s, e, losses in record["curve"]),
            snapshots=snapshots,
        )
    except (zlib.error, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"not a shared run record: {e}") from None

"""The run manager: cap and FIFO queue, pause/resume/stop, divergence, expiry, release, and
the CPU and memory a server's runs take.

Tiny VAEs on 256 images with budgets of a few dozen steps; where a test needs a run to stay
alive, a forward hook slows each step to a few milliseconds.
"""

from __future__ import annotations

import gc
import os
import threading
import time
import tracemalloc

import numpy as np
import pytest
import torch

from aigc import data
from aigc.latent import generate, sample_latents
from aigc.metrics import agreement_scorer
from aigc.models import VAE, VAEConfig
from aigc.runs import MAX_SNAPSHOTS, RunManager, Status, UnknownRun, eta_seconds, thin
from aigc.training import TrainConfig


@pytest.fixture(scope="module")
def images() -> data.ImageSet:
    full = data.load_shipped("mnist")
    return data.ImageSet("mnist", full.images[:256], full.labels[:256])


def tiny_vae(num_classes: int = 0, seed: int = 0) -> VAE:
    torch.manual_seed(seed)
    return VAE(VAEConfig(hidden=32, z_dim=4, num_classes=num_classes))


def slow(model: VAE, seconds: float = 0.005) -> VAE:
    """Make every training step (one encoder pass) take at least `seconds`."""
    model.enc_fc.register_forward_hook(lambda *_: time.sleep(seconds))
    return model


def cfg(**kw) -> TrainConfig:
    base = {"batch_size": 16, "lr": 1e-3, "snapshot_every": 5, "steps": 20}
    return TrainConfig(**(base | kw))


def wait_for(manager: RunManager, run_id: str, done, timeout: float = 20.0):
    """Poll (as a page would) until `done(view)`; return the view."""
    deadline = time.monotonic() + timeout
    while True:
        view = manager.view(run_id)
        if done(view):
            return view
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting; last view: {view.status} step {view.step}")
        time.sleep(0.02)


def ended(view) -> bool:
    return view.ended


def worker_alive(run_id: str) -> bool:
    return any(t.name == f"aigc-run-{run_id[:8]}" for t in threading.enumerate())


def test_run_trains_a_copy_and_records_its_history(images):
    model = tiny_vae()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    manager = RunManager(max_runs=1, cores=1)
    run_id = manager.submit(model, images, cfg(steps=20))
    view = wait_for(manager, run_id, ended)
    assert view.status is Status.FINISHED and view.divergence is view.error is None
    assert view.step == 20 and view.eta_s is None
    assert [s.step for s in view.snapshots] == [5, 10, 15, 20]
    assert [p.step for p in view.curve] == [5, 10, 15, 20]
    assert set(view.curve[-1].losses) == {"loss", "recon", "kl"}
    assert view.snapshots[-1].samples.shape == (100, 28, 28)
    assert not view.snapshots[-1].samples.flags.writeable
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), f"{key} of the given model changed"
    trained = manager.model(run_id)
    assert not trained.training
    assert not torch.equal(trained.state_dict()["mu.weight"], before["mu.weight"])
    assert manager.model(run_id) is not trained  # every caller gets its own copy


def test_cap_and_fifo_queue(images):
    manager = RunManager(max_runs=2, cores=4)
    ids = []
    for _ in range(4):
        run_id = manager.submit(slow(tiny_vae()), images, cfg(steps=100_000))
        manager.pause(run_id)  # idle while queued or holding a slot
        ids.append(run_id)
    a, b, c, d = ids
    views = [manager.view(i) for i in ids]
    assert [v.status for v in views[:2]] == [Status.PAUSED, Status.PAUSED]
    assert [(v.status, v.queue_position) for v in views[2:]] == [
        (Status.QUEUED, 1),
        (Status.QUEUED, 2),
    ]
    assert manager.threads_per_run() == 4  # nothing computes while paused
    manager.resume(a)
    manager.resume(b)
    assert manager.threads_per_run() == 2  # two computing runs share 4 cores

    manager.stop(a)
    wait_for(manager, c, lambda v: v.status is Status.PAUSED)  # c starts (still paused)
    assert manager.view(d).queue_position == 1
    assert manager.view(a).status is Status.STOPPED
    manager.stop(b)
    wait_for(manager, d, lambda v: v.status is Status.PAUSED)
    for run_id in (c, d):
        manager.stop(run_id)
        wait_for(manager, run_id, ended)


def test_the_queue_tells_an_honest_wait(images):
    """Each slot frees when its run's time budget runs out, and each run ahead then takes its
    whole budget; where a person or an unknown speed decides, the page is told nothing."""
    manager = RunManager(max_runs=2, cores=2)
    a = manager.submit(slow(tiny_vae()), images, cfg(steps=None, seconds=30))
    b = manager.submit(slow(tiny_vae()), images, cfg(steps=None, seconds=10))
    c = manager.submit(tiny_vae(), images, cfg(steps=None, seconds=20))
    d = manager.submit(tiny_vae(), images, cfg(steps=50))
    e = manager.submit(tiny_vae(), images, cfg(steps=None, seconds=5))
    for run_id in (a, b):
        wait_for(manager, run_id, lambda v: v.step > 0)
    # b's slot frees at ~10 s and goes to c; a's at ~30 s goes to d; d's length is unknown.
    assert manager.view(c).wait_s == pytest.approx(10, abs=2)
    assert manager.view(d).wait_s == pytest.approx(30, abs=2)
    assert manager.view(e).wait_s is None
    manager.pause(b)  # b now ends when its owner says so
    assert manager.view(c).wait_s is None
    assert manager.view(a).wait_s is None  # only a queued run waits
    for run_id in (a, b, c, d, e):
        manager.stop(run_id)
    wait_for(manager, b, ended)


def test_stopping_a_queued_run_removes_it_from_the_queue(images):
    manager = RunManager(max_runs=1, cores=1)
    first = manager.submit(slow(tiny_vae()), images, cfg(steps=100_000))
    second = manager.submit(tiny_vae(), images, cfg())
    third = manager.submit(tiny_vae(), images, cfg())
    manager.stop(second)
    assert manager.view(second).status is Status.STOPPED
    assert manager.view(third).queue_position == 1
    manager.stop(first)
    assert wait_for(manager, third, ended).status is Status.FINISHED


def test_stop_ends_the_run_within_one_step(images):
    started = [0]

    def count(*_):
        started[0] += 1
        time.sleep(0.01)

    model = tiny_vae()
    model.enc_fc.register_forward_hook(count)  # one encoder pass per training step
    manager = RunManager(max_runs=1, cores=1)
    run_id = manager.submit(model, images, cfg(steps=100_000, snapshot_every=1))
    wait_for(manager, run_id, lambda v: v.step >= 3)
    manager.stop(run_id)
    at_stop = started[0]
    t0 = time.monotonic()
    view = wait_for(manager, run_id, ended)
    assert view.status is Status.STOPPED
    assert view.step <= at_stop + 1  # at most the step already in progress completes
    assert time.monotonic() - t0 < 2.0
    assert view.snapshots[-1].step == view.step  # the model as stopped is on the timeline
    assert not manager.model(run_id).training


def test_pause_holds_and_resume_continues(images):
    manager = RunManager(max_runs=1, cores=1)
    run_id = manager.submit(slow(tiny_vae()), images, cfg(steps=40, snapshot_every=1))
    wait_for(manager, run_id, lambda v: v.step >= 2)
    manager.pause(run_id)
    time.sleep(0.1)  # the step in progress completes
    held = manager.view(run_id)
    time.sleep(0.3)
    view = manager.view(run_id)
    assert view.status is Status.PAUSED and view.step == held.step < 40
    assert view.eta_s is not None and view.eta_s > 0
    manager.resume(run_id)
    view = wait_for(manager, run_id, ended)
    assert view.status is Status.FINISHED and view.step == 40


def test_an_overflow_ends_the_run_as_diverged_with_the_last_good_snapshot_and_weights(images):
    steps = [0]

    def blow_up(module, inputs, output):  # from step 13 on, activations overflow to Inf
        steps[0] += 1
        return output * 1e38 * 1e38 if steps[0] > 12 else output

    model = tiny_vae(num_classes=10)
    model.enc_fc.register_forward_hook(blow_up)
    manager = RunManager(max_runs=1, cores=1)
    run_id = manager.submit(model, images, cfg(steps=40, snapshot_every=5))
    view = wait_for(manager, run_id, ended)
    assert view.status is Status.DIVERGED, view.error
    assert (view.divergence.step, view.divergence.source) == (13, "loss")
    assert not np.isfinite(view.divergence.value) and view.error is None
    assert [s.step for s in view.snapshots] == [5, 10]
    assert all(np.isfinite(s.samples).all() for s in view.snapshots)
    trained = manager.model(run_id)
    trained._forward_hooks.clear()
    trained.enc_fc._forward_hooks.clear()
    assert all(torch.isfinite(p).all() for p in trained.parameters())
    out = generate(trained, sample_latents(16, trained.latent_dim, 0), torch.arange(16) % 10)
    assert out.shape[0] == 16 and torch.isfinite(out).all()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_unpolled_runs_expire_and_free_their_slot(images):
    clock = FakeClock()
    manager = RunManager(max_runs=1, cores=1, idle_timeout=60, clock=clock)
    abandoned = manager.submit(slow(tiny_vae()), images, cfg(steps=100_000))
    waiting = manager.submit(tiny_vae(), images, cfg())
    clock.now += 61  # nobody polled either run for a minute
    assert sorted(manager.sweep()) == sorted([abandoned, waiting])
    for run_id in (abandoned, waiting):
        with pytest.raises(UnknownRun):
            manager.view(run_id)
    watched = manager.submit(slow(tiny_vae()), images, cfg(steps=100_000))
    wait_for(manager, watched, lambda v: v.status is Status.RUNNING)  # the slot came back
    for _ in range(3):  # three minutes, but polled every 40 s
        clock.now += 40
        manager.view(watched)
        assert manager.sweep() == []
    manager.release(watched)


def test_the_sweeper_runs_by_itself(images):
    manager = RunManager(max_runs=1, cores=1, idle_timeout=0.5)
    run_id = manager.submit(slow(tiny_vae()), images, cfg(steps=100_000))
    deadline = time.monotonic() + 10
    with pytest.raises(UnknownRun):
        while time.monotonic() < deadline:
            time.sleep(1.0)  # never polls often enough
            manager.view(run_id)


def test_release_forgets_the_run_and_starts_the_next(images):
    manager = RunManager(max_runs=1, cores=1)
    first = manager.submit(slow(tiny_vae()), images, cfg(steps=100_000))
    second = manager.submit(tiny_vae(), images, cfg())
    assert manager.view(second).queue_position == 1
    manager.release(first)
    manager.release(first)  # twice is harmless
    with pytest.raises(UnknownRun):
        manager.view(first)
    assert wait_for(manager, second, ended).status is Status.FINISHED


def test_stop_release_and_a_closed_tab_end_workers_promptly_and_touch_no_shared_model(
    images, wait_until
):
    shared = tiny_vae().eval()  # stands in for a cached model a session starts from
    before = {k: v.clone() for k, v in shared.state_dict().items()}
    clock = FakeClock()
    manager = RunManager(max_runs=1, cores=1, idle_timeout=10, clock=clock)
    a, b, c, d = (manager.submit(slow(shared), images, cfg(steps=100_000)) for _ in range(4))
    wait_until(lambda: manager.view(a).step >= 5, what="a to train")

    manager.stop(a)  # the Stop button
    took = wait_until(lambda: not worker_alive(a), what="a's worker to end")
    assert manager.view(a).status is Status.STOPPED and took < 2.0
    wait_until(lambda: manager.view(b).status is Status.RUNNING, what="b to get the slot")
    stopped = manager.model(a)
    assert stopped is not shared and all(torch.isfinite(p).all() for p in stopped.parameters())

    wait_until(lambda: manager.view(b).step >= 2, what="b to train")
    manager.release(b)  # Reset, or a rerun that abandons the run
    took = wait_until(lambda: not worker_alive(b), what="b's worker to end")
    assert took < 2.0
    with pytest.raises(UnknownRun):
        manager.model(b)  # half-trained weights are gone, not handed to anyone
    wait_until(lambda: manager.view(c).status is Status.RUNNING, what="c to get the slot")

    # c's tab closes: nobody polls it. d's tab stays open and polls every 6 (fake) seconds.
    for _ in range(2):
        clock.now += 6
        manager.view(d)
    manager.sweep()
    with pytest.raises(UnknownRun):
        manager.view(c)
    took = wait_until(lambda: not worker_alive(c), what="c's worker to end")
    assert took < 2.0
    wait_until(lambda: manager.view(d).status is Status.RUNNING, what="d to get the slot")
    manager.release(d)
    wait_until(lambda: not worker_alive(d), what="d's worker to end")

    for key, value in shared.state_dict().items():
        assert torch.equal(value, before[key]), f"{key} of the shared model changed"
    assert not shared.training


def test_model_is_refused_while_training(images):
    manager = RunManager(max_runs=1, cores=1)
    run_id = manager.submit(slow(tiny_vae()), images, cfg(steps=100_000))
    with pytest.raises(RuntimeError, match="still"):
        manager.model(run_id)
    manager.release(run_id)


def test_snapshots_are_scored_for_conditional_models_only(images):
    torch.manual_seed(0)
    from aigc.models import Classifier, ClassifierConfig

    scorer = agreement_scorer(Classifier(ClassifierConfig()).eval())
    manager = RunManager(max_runs=2, cores=1)
    cond = manager.submit(tiny_vae(num_classes=10), images, cfg(steps=10), scorer=scorer)
    plain = manager.submit(tiny_vae(), images, cfg(steps=10), scorer=scorer)
    scores = [s.score for s in wait_for(manager, cond, ended).snapshots]
    assert scores and all(0.0 <= s <= 1.0 for s in scores)
    assert all(s.score is None for s in wait_for(manager, plain, ended).snapshots)


def test_a_broken_scorer_leaves_the_run_going(images):
    def broken(samples, labels):
        raise RuntimeError("classifier file damaged")

    manager = RunManager(max_runs=1, cores=1)
    run_id = manager.submit(tiny_vae(num_classes=10), images, cfg(steps=10), scorer=broken)
    view = wait_for(manager, run_id, ended)
    assert view.status is Status.FINISHED
    assert [s.score for s in view.snapshots] == [None, None]


def test_concurrent_submissions_keep_the_cap():
    images = data.load_shipped("mnist")
    small = data.ImageSet("mnist", images.images[:64], images.labels[:64])
    manager = RunManager(max_runs=2, cores=2)
    ids: list[str] = []
    lock = threading.Lock()

    def submit():
        run_id = manager.submit(slow(tiny_vae(), 0.002), small, cfg(steps=10))
        with lock:
            ids.append(run_id)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    most = 0
    while not all(manager.view(i).ended for i in ids):
        live = [manager.view(i).status for i in ids]
        most = max(most, sum(s in (Status.RUNNING, Status.PAUSED) for s in live))
        time.sleep(0.005)
    assert most <= 2
    assert all(manager.view(i).status is Status.FINISHED for i in ids)


def test_thin_keeps_the_start_and_a_dense_recent_past():
    items = list(range(MAX_SNAPSHOTS))
    for i in range(MAX_SNAPSHOTS, 1000):
        items = thin([*items, i], MAX_SNAPSHOTS)
        assert len(items) <= MAX_SNAPSHOTS
    assert items[0] == 0 and items[-1] == 999
    assert items[-20:] == list(range(980, 1000))


def test_eta_takes_the_first_budget_to_run_out():
    assert eta_seconds(TrainConfig(seconds=10), step=5, elapsed=4.0) == 6.0
    assert eta_seconds(TrainConfig(steps=100), step=50, elapsed=5.0) == 5.0
    assert eta_seconds(TrainConfig(steps=100, seconds=3), step=50, elapsed=2.0) == 1.0
    assert eta_seconds(TrainConfig(steps=100), step=0, elapsed=0.0) is None


def test_cap_and_cores_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("AIGC_MAX_RUNS", "3")
    monkeypatch.setenv("AIGC_TRAIN_CORES", "1")
    manager = RunManager()
    assert (manager.max_runs, manager.cores) == (3, 1)
    monkeypatch.setenv("AIGC_MAX_RUNS", "none")
    with pytest.raises(ValueError, match="AIGC_MAX_RUNS"):
        RunManager()
    monkeypatch.delenv("AIGC_MAX_RUNS")
    monkeypatch.delenv("AIGC_TRAIN_CORES")
    assert RunManager().cores == (os.cpu_count() or 1)
    monkeypatch.setenv("AIGC_TRAIN_CORES", "2")
    assert RunManager().max_runs == 3  # the measured runs per core (bench: concurrent-runs)
    monkeypatch.setenv("AIGC_TRAIN_CORES", "1")
    assert RunManager().max_runs == 1


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="per-thread nice is Linux's")
def test_training_threads_yield_the_cpu_to_the_page(images):
    """A training thread runs at a lower priority than the threads serving reruns, so slider
    moves stay quick while live runs train."""
    seen = []

    def record_nice(*_):
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    model = tiny_vae()
    model.enc_fc.register_forward_hook(record_nice)
    manager = RunManager(max_runs=1, cores=1)
    run_id = manager.submit(model, images, cfg(steps=3))
    wait_for(manager, run_id, ended)
    assert seen and min(seen) >= 10
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < 10


def test_each_worker_keeps_to_its_share_of_the_cores(images):
    cores = 2
    manager = RunManager(max_runs=6, cores=cores)
    seen: list[tuple[int, int]] = []  # (threads the worker saw, runs holding a slot)
    lock = threading.Lock()

    def record(*_):
        with lock:
            seen.append((torch.get_num_threads(), len(manager._holding)))
        time.sleep(0.002)

    ids = []
    for i in range(6):
        model = tiny_vae()
        model.enc_fc.register_forward_hook(record)
        ids.append(manager.submit(model, images, cfg(steps=30, snapshot_every=1, seed=i)))
    for run_id in ids:
        assert wait_for(manager, run_id, ended).status is Status.FINISHED
    most = max(t for t, _ in seen)
    crowded = [t for t, holding in seen if holding == 6]
    print(
        f"torch threads seen by workers: max {most} with a budget of {cores} cores; "
        f"max {max(crowded, default=0)} while 6 runs trained "
        f"(threads_per_run then = {max(1, cores // 6)}; host has {os.cpu_count()} cores)"
    )
    assert most <= cores
    assert crowded and max(crowded[len(crowded) // 2 :]) == 1


def test_memory_returns_after_sessions_train_and_disconnect(images, wait_until):
    """Traced memory while 8 finished runs are held, then after their sessions left: at most
    10% of what they held stays. (A few KB per run do stay: small objects torch allocates per
    worker thread.)"""

    def session_cycle(manager: RunManager, clock: FakeClock, n: int) -> int:
        ids = [manager.submit(tiny_vae(), images, cfg(steps=10)) for _ in range(n)]
        for run_id in ids:
            wait_for(manager, run_id, ended)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        for run_id in ids[: n // 2]:
            manager.release(run_id)  # the owner reset or took the model
        clock.now += 1000  # the other tabs closed: nobody polls
        manager.sweep()
        for run_id in ids:
            with pytest.raises(UnknownRun):
                manager.view(run_id)
        wait_until(lambda: not any(worker_alive(i) for i in ids), what="workers to end")
        gc.collect()
        return held

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # torch._dynamo's one-off import
    clock = FakeClock()
    manager = RunManager(max_runs=2, cores=1, idle_timeout=60, clock=clock)
    tracemalloc.start()
    try:
        session_cycle(manager, clock, 2)  # warm-up: one-time allocations land here
        baseline = tracemalloc.get_traced_memory()[0]
        held = session_cycle(manager, clock, 8)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    print(
        f"traced memory: {baseline:,} B before, {held:,} B holding 8 ended runs, "
        f"{after:,} B after their sessions left ({(after - baseline) / 8:,.0f} B per run stays)"
    )
    assert held - baseline > 1_000_000, "the runs held less than expected: nothing measured"
    # tracemalloc counts only what was allocated since it started, so "the earlier level" is
    # measured against what the runs held: at most 10% of it may stay.
    assert after - baseline <= 0.10 * (held - baseline)

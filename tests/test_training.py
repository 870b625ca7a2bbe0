import math
import threading

import numpy as np
import pytest
import torch

from aigc.models import GAN, VAE, Classifier, ClassifierConfig, GANConfig, VAEConfig
from aigc.training import Finish, TrainConfig, TrainingRun

MODELS = {
    "gan": lambda: GAN(GANConfig()),
    "gan-unconditional": lambda: GAN(GANConfig(num_classes=0)),
    "vae-mlp": lambda: VAE(VAEConfig()),
    "vae-conv-conditional": lambda: VAE(VAEConfig(arch="conv", num_classes=10)),
    "classifier": lambda: Classifier(ClassifierConfig()),
}


@pytest.mark.parametrize("name", MODELS)
def test_two_step_dry_run_of_every_trainer(name, small_mnist):
    torch.manual_seed(0)
    model = MODELS[name]()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    run = TrainingRun(model, small_mnist, TrainConfig(steps=2, snapshot_every=1, augment=True))
    events = list(run)
    assert [e.step for e in events] == [1, 2, 2]
    assert events[-1].finished and events[-1].finish is Finish.STEPS
    assert all(e.finish is None for e in events[:-1])
    assert all(np.isfinite(list(e.losses.values())).all() for e in events)
    assert events[0].samples.dtype == np.uint8 and events[0].samples.shape[1:] == (28, 28)
    # the run trained its own copy: the model it was given is untouched
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert any(not torch.equal(run.model.state_dict()[k], before[k]) for k in before)
    assert not run.model.training


def test_same_seed_same_first_steps(small_mnist):
    def losses(seed):
        torch.manual_seed(0)
        run = TrainingRun(
            GAN(GANConfig()), small_mnist, TrainConfig(steps=4, snapshot_every=1, seed=seed)
        )
        return [e.losses for e in run]

    assert losses(3) == losses(3)
    assert losses(3) != losses(4)


def test_conditional_gan_snapshot_rows_are_classes(small_mnist):
    run = TrainingRun(GAN(GANConfig()), small_mnist, TrainConfig(steps=1, snapshot_every=1))
    ev = next(iter(run))
    assert ev.samples.shape == (100, 28, 28)
    assert list(ev.sample_labels[::10]) == list(range(10))


def test_nan_in_data_ends_the_run_as_diverged_with_the_last_good_weights(small_mnist):
    torch.manual_seed(0)
    run = TrainingRun(
        VAE(VAEConfig()), small_mnist, TrainConfig(steps=50, snapshot_every=2, batch_size=32)
    )
    it = iter(run)
    first = next(it)  # step 2: a good snapshot
    good = {k: v.clone() for k, v in run.model.state_dict().items()}
    run.x[:] = float("nan")  # every later batch is NaN
    events = list(it)
    last = events[-1]
    assert last.finish is Finish.DIVERGED
    d = last.divergence
    assert (d.step, d.source, d.name) == (3, "loss", "loss") and math.isnan(d.value)
    assert d.describe() == "loss loss became nan at step 3"
    assert first.step == 2 and last.step == 3
    assert last.samples is None  # a grid from the broken weights is not shown
    assert all(torch.equal(good[k], v) for k, v in run.model.state_dict().items())


def test_a_weight_that_turns_non_finite_while_the_loss_is_finite_is_named(small_mnist):
    calls = [0]

    def poison(module, inputs, output):  # after the output: this step's loss stays finite
        calls[0] += 1
        if calls[0] == 3:
            module.weight.data[0, 0] = float("inf")

    torch.manual_seed(0)
    vae = VAE(VAEConfig(hidden=32, z_dim=4))
    vae.mu.register_forward_hook(poison)
    run = TrainingRun(vae, small_mnist, TrainConfig(steps=10, snapshot_every=2, batch_size=16))
    last = list(run)[-1]
    d = last.divergence
    assert last.finish is Finish.DIVERGED and (d.step, d.source) == (3, "weight")
    assert d.name in dict(vae.named_parameters()) and not math.isfinite(d.value)
    assert d.describe().startswith(f"weight {d.name} became ")
    assert all(torch.isfinite(p).all() for p in run.model.parameters())


def test_an_absurd_learning_rate_diverges_a_gan_and_keeps_finite_weights(small_mnist):
    torch.manual_seed(0)
    run = TrainingRun(
        GAN(GANConfig()), small_mnist, TrainConfig(steps=200, lr=1e12, snapshot_every=1)
    )
    events = list(run)
    assert [e.finish for e in events] == [Finish.DIVERGED]  # at step 1: no snapshot was good
    assert events[-1].divergence.step == 1 and events[-1].samples is None
    assert all(torch.isfinite(p).all() for p in run.model.parameters())


def test_stop_takes_effect_within_one_step(small_mnist):
    run = TrainingRun(VAE(VAEConfig()), small_mnist, TrainConfig(steps=10_000, snapshot_every=1))
    events = []
    for ev in run:
        events.append(ev)
        if ev.step == 3:
            run.stop()
    assert events[-1].finish is Finish.STOPPED
    assert events[-1].step == 3


def test_pause_blocks_and_resume_continues(small_mnist):
    run = TrainingRun(VAE(VAEConfig()), small_mnist, TrainConfig(steps=6, snapshot_every=1))
    it = iter(run)
    next(it)
    run.pause()
    got = []
    t = threading.Thread(target=lambda: got.extend(it))
    t.start()
    t.join(0.3)
    assert t.is_alive() and run.step == 1  # paused: no step taken
    run.resume()
    t.join(10)
    assert got[-1].finish is Finish.STEPS and run.step == 6


def test_a_budget_is_required(small_mnist):
    with pytest.raises(ValueError, match="budget"):
        TrainingRun(VAE(VAEConfig()), small_mnist, TrainConfig())


def test_a_time_budget_ends_with_time(small_mnist):
    run = TrainingRun(VAE(VAEConfig()), small_mnist, TrainConfig(seconds=0.05, snapshot_every=1))
    assert list(run)[-1].finish is Finish.TIME


def test_a_batch_larger_than_the_data_trains_on_all_of_it(small_mnist):
    run = TrainingRun(VAE(VAEConfig()), small_mnist, TrainConfig(steps=2, batch_size=1000))
    assert [e.finish for e in run] == [Finish.STEPS] and run.step == 2

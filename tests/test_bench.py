"""The bench's machinery on tiny budgets: what it writes and says, never how fast it was."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from aigc.bench import __main__ as cli
from aigc.bench import references, throughput
from aigc.bench.morph_browser import first_after
from aigc.bench.report import NOT_REACHED, Figure, Report, Section, Target, table, write
from aigc.bench.timing import interleaved
from aigc.evaluation import evaluate
from aigc.latent import generate, sample_latents
from aigc.metrics import vae_heldout_nats
from aigc.models import Classifier, ClassifierConfig
from aigc.ui.bench import interaction


def fake_section() -> Section:
    return Section(
        "throughput",
        "Throughput",
        [
            Figure("met figure", "s", [3.0, 1.0, 2.0], Target("<=", 10.0)),
            Figure("missed figure", "s", [30.0, 40.0, NOT_REACHED], Target("<=", 20.0)),
            Figure("no target", "img/s", [100.0]),
            Figure("unmeasured", "ms", [], Target("<=", 10.0), note="page not ready: x"),
        ],
        notes=["- a note"],
    )


def test_report_writes_summaries_and_says_missed(tmp_path):
    report = Report("smoke", ["--smoke"], [fake_section()])
    json_path, md_path = write(report, tmp_path)

    data = json.loads(json_path.read_text())
    assert {"cpu", "cores", "torch", "threads", "date"} <= set(data["machine"])
    figures = {f["name"]: f for f in data["sections"][0]["figures"]}
    met = figures["met figure"]
    assert (met["median"], met["min"], met["max"], met["repeats"]) == (2.0, 1.0, 3.0, 3)
    assert met["status"] == "met"
    missed = figures["missed figure"]
    assert missed["status"] == "MISSED"
    assert missed["max"] is None and missed["not_reached"] == 1  # JSON has no infinity
    assert figures["unmeasured"]["status"] == "not measured"
    assert data["missed"] == ["throughput: missed figure"]

    md = md_path.read_text()
    assert "**MISSED**: throughput: missed figure" in md
    assert "| median | min | max | n |" in md
    assert "## Throughput notes" in md and "- a note" in md
    text = table(report)
    assert "MISSED 1 target(s)" in text and "not reached" in text
    assert "WARNING" not in text


def test_report_warns_when_other_processes_took_the_cpu(tmp_path):
    section = fake_section()
    section.others_cpu = 0.5
    report = Report("smoke", [], [section])
    assert "WARNING: other processes used 50% of the CPU during throughput" in table(report)
    _, md_path = write(report, tmp_path)
    assert "WARNING" in md_path.read_text()


def test_cli_prints_table_and_writes_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "run_measure", lambda name, mode: fake_section())
    assert cli.main(["--smoke", "--only", "throughput", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "MISSED" in out and "missed figure" in out
    assert (tmp_path / "bench.json").exists() and (tmp_path / "bench.md").exists()


def test_cli_rejects_unknown_measure():
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["--only", "nonsense"])


def test_core_measures_run_without_importing_streamlit():
    code = "import sys, aigc.bench.__main__; print('streamlit' in sys.modules)"
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_interleaved_alternates_sides():
    calls = []
    out = interleaved({"a": lambda r: calls.append(("a", r)), "b": lambda r: calls.append("b")}, 2)
    assert calls == [("a", 0), "b", ("a", 1), "b"]
    assert list(out) == ["a", "b"] and len(out["a"]) == 2


def test_reference_models_train_and_score(small_mnist):
    x, y = small_mnist.tensors()
    torch.manual_seed(0)
    vae = references.ReferenceVAE(references.ReferenceVAEConfig(z_dim=16))
    gan = references.ReferenceDCGAN(references.ReferenceDCGANConfig(g_width=8, d_width=8))
    for model, step in (
        (vae, references.reference_vae_step(vae)),
        (gan, references.reference_dcgan_step(gan)),
    ):
        steps, spent = references.train_for(step, x, y, 1e-9, batch_size=16, seed=0)
        assert steps == 1 and spent > 0
        images = generate(model.eval(), sample_latents(4, model.latent_dim, 0), torch.arange(4))
        assert images.shape == (4, 1, 28, 28) and 0 <= images.min() <= images.max() <= 1
    assert math.isfinite(vae_heldout_nats(vae, x[:32], y[:32]))
    # the GAN goes through the very code that scores the shipped weights
    figures = evaluate(gan, Classifier(ClassifierConfig()).eval())  # untrained: plumbing only
    assert math.isfinite(figures["frechet_distance"]) and "class_agreement" in figures


def test_throughput_counts_step_flops(small_mnist):
    flops = throughput.flops_per_step("vae", small_mnist, batch_size=8)
    # 784-400-16 encoder and decoder: forward + backward >= 2 * (3 matmuls) * 8 * 784 * 400
    assert flops > 2 * 3 * 8 * 784 * 400
    names = [v.name for v in throughput.variants("gan", throughput.SETTINGS["quick"])]
    assert names[0].startswith("live") and any("channels_last" in n for n in names)


def test_interaction_reports_page_not_ready(tmp_path):
    with pytest.raises(interaction.PageNotReady, match="does not exist"):
        interaction.open_page(tmp_path / "missing_app.py")
    broken = tmp_path / "broken_app.py"
    broken.write_text("import streamlit as st\nraise RuntimeError('half built')\n")
    with pytest.raises(interaction.PageNotReady, match="half built"):
        interaction.open_page(broken)


def test_static_page_moves_its_sliders():
    at, first_ms = interaction.open_page(interaction.STATIC_APP, {"sliders": "3"})
    assert len(at.slider) == 3 and first_ms > 0
    move = interaction.mover(at, interaction.STATIC_APP)
    assert move(0) > 0 and move(1) > 0
    assert not at.exception
    assert [s.value for s in at.slider] != [0.0, 0.0, 0.0]


def test_morph_pairs_each_release_with_the_next_answer():
    # A release's answer is the first one after it; a release nothing answered is left out.
    assert first_after([10.0, 50.0, 90.0], [5.0, 30.0, 60.0, 70.0]) == [20.0, 10.0]
    assert first_after([], [1.0]) == [] and first_after([1.0], []) == []


def test_the_review_section_counts_every_vote_cast_as_stored():
    from aigc.bench import review_votes

    section = review_votes.run("smoke")
    figures = {f.name: f for f in section.figures}
    cast = figures["SQLite, 3 reviewers flat out: votes cast"].values
    assert cast == [3 * 3]  # 3 reviewers x 1 pair of models x 3 seeds
    lost = [f for name, f in figures.items() if "votes lost" in name]
    assert len(lost) == 2 and all(f.values == [0] and f.status == "met" for f in lost)


def test_fitted_priors_judges_the_median_seed_against_the_real_images_share(monkeypatch):
    from aigc.bench import priors

    shares = iter([0.49, 0.7] * len(priors.VAES))  # against 0.7 real: 0.7x, then 1.0x
    monkeypatch.setattr(priors, "load_shipped", lambda name: name)
    monkeypatch.setattr(
        priors,
        "evaluate",
        lambda vae, seed: {
            "confident_share": 0.35,
            "fitted_confident_share": next(shares),
            "real_confident_share": 0.7,
            "fitted_class_entropy_ratio": 0.94 + 0.03 * seed,
            "fitted_frechet_distance": 60.0,
        },
    )
    figures = {f.name: f for f in priors.run("quick").figures}
    share = figures["vae_fashion: fitted-prior samples sure / real images sure"]
    assert share.values == pytest.approx([0.7, 1.0]) and share.status == "met"
    entropy = figures["vae_fashion: fitted-prior class entropy / its maximum"]
    assert entropy.values == pytest.approx([0.94, 0.97]) and entropy.status == "met"

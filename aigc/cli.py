"""`python -m aigc`: sample, interpolate, train and evaluate from the command line, and open
class rooms and reviews."""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import signal
import sys
from pathlib import Path

import torch

from aigc import classroom, data, image_folder, prior, recipes, render, review, review_pictures
from aigc.checkpoint import (
    WeightsError,
    class_names,
    kind_of,
    load_model,
    save_model,
    training_provenance,
)
from aigc.imaging import DIGIT_PREPROCESSING, write_image
from aigc.models import KINDS, VAE
from aigc.training import TrainingRun
from aigc.weights import MANIFEST, SHIPPED, load_shipped, shipped_path


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", choices=["gan", "vae"], help="which shipped model (or check --weights)"
    )
    p.add_argument("--dataset", choices=data.DATASETS, default="mnist")
    p.add_argument("--weights", type=Path, help="a .safetensors file (default: the shipped one)")


def _load(args) -> tuple[torch.nn.Module, tuple[str, ...]]:
    """The model asked for and the names of its classes (a file's own, for a model trained on
    a user's images)."""
    if args.weights:
        model, provenance = load_model(args.weights)
        if kind_of(model) not in ("gan", "vae") or (
            args.model and not isinstance(model, KINDS[args.model][1])
        ):
            raise WeightsError(
                f"{args.weights.name}: holds a {type(model).__name__}, not a {args.model or 'GAN or VAE'}"
            )
        return model, class_names(model, provenance)
    if not args.model:
        raise SystemExit("error: name a shipped model with --model, or give --weights")
    model = load_shipped(f"{args.model}_{args.dataset}")
    return model, class_names(model, {})


def _label(model, names: tuple[str, ...], label: str | None) -> int | None:
    """--label as a class name ("sneaker", "my 7") or an index."""
    k = model.config.num_classes
    if label is None:
        return None
    if not k:
        raise SystemExit("error: --label needs a class-conditional model")
    if label in names:
        return names.index(label)
    if label.isdigit() and int(label) < k:
        return int(label)
    listed = ", ".join(f"{i} ({name})" for i, name in enumerate(names))
    raise SystemExit(f"error: --label must be a class name or index of this model: {listed}")


def _prior_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--prior",
        choices=["normal", "fitted"],
        help="VAEs: z ~ N(0, I), or a mixture fitted to the training codes (the default)",
    )


def _prior(model, asked: str | None) -> prior.FittedPrior | None:
    """The prior a sample draws from: a VAE's fitted one unless `normal` is asked for (fitted
    here, in well under a second, to the training split of the model's dataset)."""
    if not isinstance(model, VAE):
        if asked == "fitted":
            raise SystemExit("error: --prior fitted is for VAEs (a GAN samples its own prior)")
        return None
    if asked == "normal":
        return None
    if model.config.dataset not in data.DATASETS:
        if asked == "fitted":
            raise SystemExit(
                "error: --prior fitted is fitted to the training images, and this VAE learnt "
                "from your own, which the file does not carry; use --prior normal"
            )
        print(
            "note: sampling from N(0, I): the fitted prior needs the training images",
            file=sys.stderr,
        )
        return None
    return prior.for_dataset(model, model.config.dataset)


def cmd_sample(args) -> None:
    model, names = _load(args)
    if not 1 <= args.n <= 10_000:
        raise SystemExit("error: --n must be in 1..10000")
    label = _label(model, names, args.label)
    k = model.config.num_classes
    every_class = [i % k for i in range(args.n)] if k and label is None else None
    look = render.Look(seed=args.seed, label=label)
    images = render.samples(model, look, args.n, every_class, _prior(model, args.prior))
    write_image(args.out, images, cols=min(10, k) if every_class else None)
    what = f" of {names[label]!r}" if label is not None else ""
    print(f"wrote {args.n} samples{what} to {args.out}")


def cmd_interpolate(args) -> None:
    model, names = _load(args)
    if not 2 <= args.steps <= 200:
        raise SystemExit("error: --steps must be in 2..200")
    label = _label(model, names, args.label) or 0
    points = render.seed_points(model, args.seeds, _prior(model, args.prior))
    images = render.walk(model, points, args.steps, args.slerp, (label, label))
    write_image(args.out, images, cols=len(images))
    print(f"wrote {len(images)} frames to {args.out}")


def _training_set(args) -> tuple[data.ImageSet, dict]:
    """The images to train on, and what the weights file records about where they came from."""
    if not args.images:
        source = str(args.data_dir) if args.data_dir else "shipped"
        return data.load(args.dataset, "train", args.data_dir), {"data_source": source}
    if args.data_dir:
        raise SystemExit("error: --data-dir goes with --dataset, not --images")
    own = image_folder.read(args.images)
    for skipped in own.skipped:
        print(f"skipped {skipped}", file=sys.stderr)
    image_folder.check_trainable(own.images, args.label_conditional)
    counts = ", ".join(f"{name}: {n}" for name, n in own.images.counts().items())
    print(f"{len(own.images)} images from {args.images.name} ({counts})", flush=True)
    return own.images, {
        "data_source": str(args.images),
        "class_names": list(own.images.class_names),
        "preprocessing": DIGIT_PREPROCESSING,
        "skipped_files": len(own.skipped),
    }


def cmd_train(args) -> None:
    vae_only = {"arch": args.arch, "activation": args.activation, "width": args.width}
    cfg_over = {k: v for k, v in {"z_dim": args.latent_dim, **vae_only}.items() if v is not None}
    if args.model != "vae" and cfg_over.keys() & vae_only.keys():
        raise SystemExit("error: --arch, --activation and --width apply to --model vae")
    over = {
        k: v
        for k, v in vars(args).items()
        if k in ("steps", "seconds", "seed", "lr", "batch_size", "shift_pixels") and v is not None
    }
    if args.augment is not None:
        over["augment"] = args.augment
    if args.steps is None and args.seconds is None:
        over["seconds"] = 20.0
    train_cfg = recipes.live_train_config(args.model, **over)
    images, source = _training_set(args)
    model = recipes.new_model(args.model, images, args.label_conditional, args.seed, **cfg_over)
    run = TrainingRun(model, images, train_cfg)
    previous = signal.signal(signal.SIGINT, lambda *_: run.stop())  # Ctrl-C: stop after this step
    try:
        for ev in run:
            losses = " ".join(f"{k}={v:.3f}" for k, v in ev.losses.items())
            print(
                f"step {ev.step:6d}  epoch {ev.epoch:6.2f}  {ev.elapsed:7.1f}s  {ev.images_per_s:7.0f} img/s  {losses}",
                flush=True,
            )
    finally:
        signal.signal(signal.SIGINT, previous)
    provenance = training_provenance(
        train_cfg,
        dataset=images.name,
        steps=run.step,
        seconds=ev.elapsed,
        train_images=len(images),
        command="python -m aigc " + shlex.join(args.argv),
        **source,
    )
    save_model(run.model, args.out, provenance)
    if ev.divergence is not None:
        print(f"diverged: {ev.divergence.describe()}; saved the last good weights to {args.out}")
        raise SystemExit(1)
    print(f"{ev.finish}: saved {args.out} after {run.step} steps")


def cmd_evaluate(args) -> None:
    from aigc.evaluation import evaluate  # imports the shipped classifiers: only when asked

    files = args.files or [shipped_path(name) for name in SHIPPED]
    results = {}
    for f in files:
        model, provenance = load_model(f)
        figures = evaluate(model, judge=args.judge, class_names=class_names(model, provenance))
        results[Path(f).stem] = figures
        print(
            f"{Path(f).name:28s} " + "  ".join(f"{k}={v:.4g}" for k, v in figures.items()),
            flush=True,
        )
        if args.manifest:
            results[Path(f).stem] = {
                "file": Path(f).name,
                "sha256": hashlib.sha256(Path(f).read_bytes()).hexdigest(),
                "kind": type(model).__name__,
                "config": vars(model.config),
                "provenance": provenance,
                "quality": figures,
            }
    if args.manifest:
        MANIFEST.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {MANIFEST}")


def cmd_classroom_open(args) -> None:
    ttl_s = None if args.hours is None else args.hours * 3600
    opened = classroom.open_room(args.title, ttl_s)
    code = opened.room.code
    print(f"teacher: {classroom.teacher_link(args.base_url, code, opened.teacher_token)}")
    print(f"student: {classroom.student_link(args.base_url, code)}")


def cmd_classroom_list(args) -> None:
    for room in classroom.list_rooms():
        title = "".join(c if c.isprintable() else " " for c in room.title)  # one line per room
        n = len(classroom.followers(room.code))
        expires = room.expires.isoformat(timespec="minutes")
        print(f"{room.code}\t{title}\t{expires}\t{n} followers")


def cmd_classroom_close(args) -> None:
    classroom.close_room(args.code, args.teacher)
    print(f"closed {classroom.normal_code(args.code)}")


def cmd_classroom_purge(args) -> None:
    days = classroom.keep_days() if args.days is None else args.days
    print(f"purged {classroom.purge(days)} rooms that expired more than {days:g} days ago")


def _classroom_parser(sub) -> None:
    p = sub.add_parser("classroom", help="open, list, close and purge class rooms")
    rooms = p.add_subparsers(dest="action", required=True)
    q = rooms.add_parser("open", help="open a room; prints its teacher and student links")
    q.add_argument("--title", default="", help="shown to the students")
    q.add_argument("--base-url", default="http://localhost:8501", help="where the app is served")
    q.add_argument("--hours", type=float, help="until it closes by itself (default 4)")
    q.set_defaults(func=cmd_classroom_open)
    q = rooms.add_parser("list", help="open rooms: code, title, expiry (UTC), followers")
    q.set_defaults(func=cmd_classroom_list)
    q = rooms.add_parser("close", help="close a room for good")
    q.add_argument("code")
    q.add_argument("--teacher", required=True, help="the teacher token from the teacher link")
    q.set_defaults(func=cmd_classroom_close)
    q = rooms.add_parser("purge", help="delete rooms long expired, with their galleries")
    q.add_argument("--days", type=float, help="after expiry (default $AIGC_ROOM_KEEP_DAYS or 30)")
    q.set_defaults(func=cmd_classroom_purge)


def _review_entry(source: str) -> tuple[review.Entry, torch.nn.Module]:
    """A shipped model's name, or a weights file (reviewed by its sha256, labelled by name),
    as a review's entry, and its model."""
    if source in SHIPPED:
        model, label, digest, shipped = load_shipped(source), source, None, source
    else:
        path = Path(source)
        model, _ = load_model(path)
        label, digest, shipped = path.stem, hashlib.sha256(path.read_bytes()).hexdigest(), None
    entry = review.Entry(label, kind_of(model), model.config.dataset, shipped, digest)
    return entry, model


def cmd_review_open(args) -> None:
    entries, models = zip(*(_review_entry(m) for m in args.models), strict=True)
    conditional = [render.conditional(m) for m in models]
    given = ("all" if all(conditional) else "none") if args.classes is None else args.classes
    classes = {"all": range(10), "none": []}.get(given) or [int(c) for c in given.split(",")]
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    if args.interpolate:
        stimuli = review.interpolations([(s, s + args.seeds) for s in seeds], classes)
    else:
        stimuli = review.samples(seeds, classes)
    opened = review.open_review(
        args.title,
        entries,
        stimuli,
        show="interpolations" if args.interpolate else "samples",
        per_reviewer=args.per_reviewer,
    )
    code = opened.review.code
    fitted = [_prior(m, None) if isinstance(m, VAE) else None for m in models]
    review_pictures.make(code, opened.owner_secret, models, fitted)  # what reviewers are shown
    print(f"owner: {review.owner_link(args.base_url, code, opened.owner_secret)}")
    print(f"reviewers: {review.review_link(args.base_url, code)}")


def cmd_review_results(args) -> None:
    v = review.results(args.code, args.owner).verdict
    print(f"{v.votes} votes by {v.reviewers} reviewers")
    for s in v.standings:
        rate = s.win_rate
        ci = "" if rate.low is None else f" (95% CI {rate.low:.0%}-{rate.high:.0%})"
        print(f"{v.labels[s.entry]}: wins {rate.value:.0%} of {s.votes} comparisons{ci}")
    for pair in v.pairs:
        print(pair.describe(v.labels))
    a = v.agreement
    if a.kappa is not None:
        print(
            f"agreement on {a.items} pairs voted by several: {a.observed:.0%}, kappa {a.kappa:.2f}"
        )


def cmd_review_export(args) -> None:
    if args.out.suffix.lower() == ".json":
        args.out.write_text(review.export_json(args.code, args.owner), encoding="utf-8")
    else:  # with a byte-order mark, so a spreadsheet reads it as UTF-8
        args.out.write_bytes(review.export_csv(args.code, args.owner).encode("utf-8-sig"))
    print(f"wrote {args.out}")


def cmd_review_close(args) -> None:
    review.close_review(args.code, args.owner)
    print(f"closed {review.normal_code(args.code)}")


def _review_parser(sub) -> None:
    p = sub.add_parser("review", help="blind side-by-side reviews of 2-4 models")
    actions = p.add_subparsers(dest="action", required=True)
    q = actions.add_parser("open", help="open a review; prints its owner and reviewer links")
    q.add_argument("models", nargs="+", help="shipped names (gan_mnist) or .safetensors files")
    q.add_argument("--title", default="", help="shown to the reviewers")
    q.add_argument("--seeds", type=int, default=10, help="how many seeds (default 10)")
    q.add_argument("--first-seed", type=int, default=0)
    q.add_argument("--classes", help="all (in turn), none, or 3,7 (default: all for GANs)")
    q.add_argument("--interpolate", action="store_true", help="walks from seed s to s + seeds")
    q.add_argument("--per-reviewer", type=int, help="pairs each reviewer is asked (default all)")
    q.add_argument("--base-url", default="http://localhost:8501", help="where the app is served")
    q.set_defaults(func=cmd_review_open)
    for name, func, what in (
        ("results", cmd_review_results, "the verdict so far"),
        ("export", cmd_review_export, "every vote and the verdict, as .csv or .json"),
        ("close", cmd_review_close, "stop taking votes for good"),
    ):
        q = actions.add_parser(name, help=what)
        q.add_argument("code")
        q.add_argument("--owner", required=True, help="the owner secret from the owner link")
        if name == "export":
            q.add_argument("--out", type=Path, required=True, help="F.csv or F.json")
        q.set_defaults(func=func)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m aigc", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sample", help="write samples as a .png grid or a .npy uint8 array")
    _model_args(p)
    p.add_argument("--label", help="class to draw, by name or index (conditional models)")
    p.add_argument("--n", type=int, default=64)
    p.add_argument(
        "--seed", type=int, default=0, help="image i is the page's picture of seed SEED + i"
    )
    p.add_argument("--out", type=Path, required=True, help=".png grid or .npy (N, 28, 28) uint8")
    _prior_arg(p)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("interpolate", help="walk between the latents of several seeds")
    _model_args(p)
    p.add_argument("--seeds", type=int, nargs="+", required=True, help="two or more seeds")
    p.add_argument("--label", help="class for a conditional model, by name or index (default 0)")
    p.add_argument("--steps", type=int, default=10, help="frames per segment")
    p.add_argument("--slerp", action="store_true", help="spherical instead of linear")
    p.add_argument("--out", type=Path, required=True, help=".gif animation or .png strip")
    _prior_arg(p)
    p.set_defaults(func=cmd_interpolate)

    p = sub.add_parser("train", help="train a model from scratch and save it")
    p.add_argument("--model", choices=recipes.KINDS, required=True)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--dataset", choices=data.DATASETS, default="mnist")
    source.add_argument(
        "--images",
        type=Path,
        help="your own pictures: a folder (or .zip) with one subfolder of PNG/JPEG per class",
    )
    p.add_argument("--label-conditional", action="store_true")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--seconds", type=float)
    budget.add_argument("--steps", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--latent-dim", type=int)
    p.add_argument("--arch", choices=["mlp", "conv"], help="VAE body")
    p.add_argument("--activation", choices=["relu", "silu"], help="VAE fully connected layers")
    p.add_argument(
        "--width",
        type=int,
        choices=range(8, 129),
        metavar="{8..128}",
        help="VAE conv channels (--arch conv; default 32)",
    )
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument(
        "--shift-pixels",
        type=int,
        choices=range(9),
        metavar="{0..8}",
        help="how far --augment shifts images (default 2)",
    )
    p.add_argument("--data-dir", type=Path, help="folder with the four IDX files (full dataset)")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="quality figures of weights files (default: all shipped)")
    p.add_argument("files", nargs="*", type=Path)
    p.add_argument("--manifest", action="store_true", help="write weights/manifest.json")
    p.add_argument(
        "--judge",
        choices=data.DATASETS,
        help="for weights trained on your own images: the shipped classifier that knows their "
        "classes (mnist for folders named 0 to 9)",
    )
    p.set_defaults(func=cmd_evaluate)

    _classroom_parser(sub)
    _review_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        args.func(args)
    except (WeightsError, data.DataError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0

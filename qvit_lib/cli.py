"""The command line: ``python -m qvit_lib COMMAND --help``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from qvit_lib.core import paper
from qvit_lib.core.errors import ConfigError, DataError, QvitError, TrainingInterrupted
from qvit_lib.core.provenance import code_version
from qvit_lib.data.dataset import SPLIT_FRACTIONS, EcalDataset, summarise_files
from qvit_lib.data.shapes import MIN_EVENTS_PER_CLASS, SEPARABILITY_FEATURES, pixel_separability_auc, separability_auc
from qvit_lib.models.variants import ATTENTION_LOADERS, ViTConfig, every_variant, parameter_formula
from qvit_lib.runs.bench import run_benchmarks

__all__ = ["build_parser", "main"]


def _integer_at_least(minimum: int, what: str):
    """An argparse type for integers >= ``minimum``, with a message that says so."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {what} integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a {what} integer, got {value}")
        return value

    return parse


_positive_int = _integer_at_least(1, "positive")
_seed = _integer_at_least(0, "non-negative")


def _integer_between(minimum: int, maximum: int) -> Callable[[str], int]:
    """An argparse type for integers from ``minimum`` to ``maximum``, with a message that names the range."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer from {minimum} to {maximum}, got {text!r}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"expected an integer from {minimum} to {maximum}, got {value}")
        return value

    return parse


# `params` builds each of some 200 variants in turn: sizes up to these (20 to 100 times the paper's) and models
# of at most _PARAMS_MOST parameters (2000 times the paper's 4,785) keep the table within seconds and memory.
_PARAMS_RANGES = {
    "n_layers": (0, 100),
    "d_token": (1, 512),  # beyond, the quantum projections' exact propagation alone takes tens of seconds
    "n_heads": (1, 512),
    "d_ff": (1, 4096),
    "d_patch": (1, 2048),  # a whole 32 × 32 image of both channels
    "projection_layers": (1, 64),
}
_PARAMS_MOST = 10_000_000


def _cmd_simulate(args: argparse.Namespace) -> int:
    # lazy: loads SciPy; importing this module does not
    from qvit_lib.data.simulation import write_dataset

    if args.n % 2:
        raise SystemExit(f"simulate: --n must be even (half photons, half electrons), got {args.n}")
    try:
        paths = write_dataset(args.out, args.n, seed=args.seed, progress=not args.quiet, overwrite=args.overwrite)
    except KeyboardInterrupt:  # write_dataset has removed what it began to write
        print(
            f"interrupted: simulation stopped; nothing was written to {args.out} and no partial file is left",
            file=sys.stderr,
        )
        raise SystemExit(130) from None
    for path in paths:
        print(f"wrote {path}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:

    for summary in summarise_files(args.path):
        print(f"{summary['file']}")
        for key, value in summary.items():
            if key != "file" and value is not None:
                print(f"  {key:26s} {value}")
    return 0


def _cmd_separability(args: argparse.Namespace) -> int:

    if args.n_per_class < MIN_EVENTS_PER_CLASS:
        raise ConfigError(
            f"--n-per-class {args.n_per_class}: a separability baseline needs at least {MIN_EVENTS_PER_CLASS} "
            "events of each class"
        )
    with EcalDataset(args.path, seed=args.seed) as dataset:
        n = min(2 * args.n_per_class, dataset.split_size("train"))
        energy, labels = dataset.load("train", n, normalise=False)
        kind = dataset.describe()["kind"]
        location, per_class = dataset.location, dataset.n_per_class
    print(f"data: {kind}, {len(labels)} events of the training split")
    _check_separability_events(int((labels == 0).sum()), int((labels == 1).sum()), location, per_class)
    linear = separability_auc(energy, labels, seed=args.seed)
    trees = pixel_separability_auc(energy, labels, seed=args.seed)
    print(f"logistic regression on {', '.join(SEPARABILITY_FEATURES)}: test AUC {linear:.3f}")
    print(f"gradient-boosted trees on the central 7x11 crystals:   test AUC {trees:.3f}")
    return 0


def _check_separability_events(photons: int, electrons: int, location: Path, per_class: int) -> None:
    """Too few events of a class in the training split: a DataError naming the data and what it would need."""

    if min(photons, electrons) >= MIN_EVENTS_PER_CLASS:
        return
    needed = MIN_EVENTS_PER_CLASS  # events per class whose training split (as EcalDataset cuts it) holds enough
    while int(SPLIT_FRACTIONS[0] * needed) < MIN_EVENTS_PER_CLASS:
        needed += 1
    raise DataError(
        f"a separability baseline needs at least {MIN_EVENTS_PER_CLASS} events of each class; got {photons} photons "
        f"and {electrons} electrons in the training split of {location}, which holds {per_class} "
        f"event{'' if per_class == 1 else 's'} per class; at least {needed} per class are needed "
        f"({round(100 * SPLIT_FRACTIONS[0])} % of them train)"
    )


def _check_model_size(hyper: dict[str, int], variants: list[str]) -> None:
    """Refuse sizes whose largest model is too big to count, by its closed-form count, before any model is built."""

    counts = []
    for variant in variants:
        try:
            counts.append((parameter_formula(ViTConfig.from_variant(variant, **hyper)), variant))
        except ConfigError:  # not defined at these sizes: the table says why
            continue
    count, variant = max(counts, key=lambda pair: pair[0], default=(0, None))
    if count > _PARAMS_MOST:
        defaults = {**paper.HYPER_PARAMETERS, "projection_layers": 1}
        changed = {name: value for name, value in hyper.items() if value != defaults[name]}
        flags = " ".join(f"--{name.replace('_', '-')} {value}" for name, value in changed.items())
        raise ConfigError(
            f"{flags}: the largest variant, {variant}, would have {count:,} trainable parameters; at most "
            f"{_PARAMS_MOST:,} are counted here (the paper's models have {paper.PARAMETERS['classical', 'cmx']:,}), "
            "as every variant is built in turn"
        )


def _cmd_params(args: argparse.Namespace) -> int:
    # lazy: loads torch; importing this module does not
    from qvit_lib.models.vit import parameter_table

    hyper = {
        "n_layers": args.n_layers,
        "d_token": args.d_token,
        "n_heads": args.n_heads,
        "d_ff": args.d_ff,
        "d_patch": args.d_patch,
        "projection_layers": args.projection_layers,
    }
    ViTConfig(**hyper)  # the hyper-parameters themselves (a ConfigError if not valid)
    variants = [v for v in every_variant() if args.match is None or args.match in v]
    if not variants:
        raise ConfigError(f"--match {args.match!r}: no variant name contains it")
    _check_model_size(hyper, variants)
    print(f"hyper-parameters: {', '.join(f'{k}={v}' for k, v in hyper.items())}")
    print("(-rk2, -rk3 and -rk4 reuse each layer's parameters: the same count as without)")
    print(f"{'variant':31s} {'model':>7s} {'formula':>8s} {'paper':>7s}")
    for row in parameter_table(variants, **hyper):
        if row["parameters"] is None:
            print(f"{row['variant']:31s} {'-':>7s} {'-':>8s} {'-':>7s}  not defined: {row['reason']}")
        else:
            print(f"{row['variant']:31s} {row['parameters']:7d} {row['formula']:8d} {row['paper'] or '-':>7}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:

    results = run_benchmarks(args.suite, n_events=args.n, quick=args.quick, out=args.out, baseline=args.baseline)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


def _say_step_path() -> None:
    """One line: which attention kernel and which training step this run uses."""
    # lazy: loads torch; importing this module does not
    from qvit_lib.training.compiled import step_path

    print(f"qvit: {step_path()}", file=sys.stderr, flush=True)


def _cmd_train(args: argparse.Namespace) -> int:
    # lazy: loads torch; importing this module does not
    from qvit_lib.runs.experiments import check_variant, get_protocol, run_variant

    # lazy: loads torch; importing this module does not
    from qvit_lib.runs.store import result_paths

    # lazy: loads torch; importing this module does not
    from qvit_lib.training.process import distributed_rank, init_distributed_from_env

    check_variant(args.variant)
    get_protocol(args.protocol)
    _say_step_path()
    init_distributed_from_env()  # under torchrun: data-parallel over the processes
    resume = f"python -m qvit_lib train --variant {args.variant} --protocol {args.protocol} --seed {args.seed} --resume"
    record = _interruptible(
        lambda: run_variant(
            args.variant, args.protocol, seed=args.seed, resume=args.resume, results_dir=args.results_dir
        ),
        resume,
    )
    if distributed_rank()[0] != 0:
        return 0
    test = record["test"]
    print(
        f"{args.variant} ({args.protocol}, seed {args.seed}): best epoch {record['best_epoch']}, "
        f"test accuracy {test['accuracy']:.4f}, BCE {test['bce']:.4f}, AUC {test['auc']:.4f}, "
        f"{record['wall_seconds']:.0f} s"
    )
    print(f"wrote {result_paths(args.protocol, args.variant, args.seed, results_dir=args.results_dir).record}")
    _store_scores(args.protocol, args.results_dir)
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    # lazy: loads torch; importing this module does not
    from qvit_lib.runs.experiments import get_protocol, sweep, sweep_in_processes, sweep_plan

    get_protocol(args.protocol)
    _say_step_path()
    again = f"python -m qvit_lib sweep --protocol {args.protocol}"
    plan = sweep_plan(tuple(args.seeds), args.protocol, args.family)
    if args.family != "paper":
        again += f" --family {args.family}"
    if args.engine == "ray":
        # lazy: loads Ray; only this engine needs it
        from qvit_lib.runs.tuning import sweep_with_ray

        again += " --engine ray" + (f" --address {args.address}" if args.address else "")
        statuses = _interruptible(
            lambda: sweep_with_ray(
                args.protocol, plan, address=args.address, cpus=args.workers or None, results_dir=args.results_dir
            ),
            again,
        )
    elif args.address:
        raise ConfigError("--address joins a Ray cluster: it goes with --engine ray")
    elif int(os.environ.get("WORLD_SIZE", "1")) > 1 or args.workers == 0:  # torchrun's processes, or this one
        statuses = _interruptible(
            lambda: sweep(args.protocol, seeds=tuple(args.seeds), results_dir=args.results_dir, plan=plan), again
        )
    else:
        statuses = _interruptible(
            lambda: sweep_in_processes(
                args.protocol, args.workers, seeds=tuple(args.seeds), results_dir=args.results_dir, plan=plan
            ),
            again,
        )
    for variant, seed, status in statuses:
        print(f"{variant:24s} seed {seed}: {status}")
    _store_scores(args.protocol, args.results_dir)
    return 0


def _cmd_tune(args: argparse.Namespace) -> int:
    # lazy: loads Ray and torch; only this command needs them
    from qvit_lib.runs import tuning

    options = {"trials": args.trials or tuning.TRIALS, "seed": args.seed, "address": args.address, "cpus": args.cpus}
    if args.protocol:
        options["protocol"] = args.protocol
    record = tuning.tune_variant(args.variant, results_dir=args.results_dir, **options)
    chosen = ", ".join(f"{k} {v:.3g}" for k, v in record["chosen"].items())
    trials = len(record["trials"])
    print(f"{args.variant}: {trials} trials; chosen {chosen} (validation AUC {record['chosen_val_auc']:.4f})")
    return 0


def _store_scores(protocol: str, results_dir: Path | None) -> None:
    """After training under a protocol whose chapter compares runs pairwise: each new run's test scores."""
    # lazy: loads torch; importing this module does not
    from qvit_lib.runs.scores import SCORED_PROTOCOLS, score_runs

    # lazy: loads torch; importing this module does not
    from qvit_lib.training.process import distributed_rank

    if protocol in SCORED_PROTOCOLS and distributed_rank()[0] == 0:
        scored = [n for n, status in score_runs(protocol, results_dir, progress=False).items() if status == "scored"]
        print(f"test scores stored for {len(scored)} new run(s) (python -m qvit_lib scores --protocol {protocol})")


def _cmd_scores(args: argparse.Namespace) -> int:
    # lazy: loads torch; importing this module does not
    from qvit_lib.runs.scores import SCORES_SUFFIX, score_runs

    statuses = score_runs(args.protocol, args.results_dir)
    scored = sorted(name for name, status in statuses.items() if status == "scored")
    print(f"{len(scored)} run(s) scored, {len(statuses) - len(scored)} kept: {', '.join(scored) or 'none new'}")
    print(f"each run's scores: data/results/{args.protocol}/<run>{SCORES_SUFFIX}")
    return 0


def _cmd_device(args: argparse.Namespace) -> int:
    # lazy: loads torch; importing this module does not
    from qvit_lib.runs.experiments import get_protocol, load_results

    # lazy: loads torch; importing this module does not
    from qvit_lib.runs.hardware import run_device_scan, run_shot_fine_tuning

    # lazy: loads torch; importing this module does not
    from qvit_lib.runs.store import run_name

    get_protocol(args.protocol)
    code_version()  # every record of this command names the code it started with
    config = ViTConfig.from_variant(args.variant) if args.variant else None
    runs_circuits = config and (config.attention in ATTENTION_LOADERS or config.feed_forward == "qmlp")
    if config and (config.attention == "qproj" or not runs_circuits):
        raise ConfigError(
            f"--variant {args.variant}: the device model runs hybrid attention heads and the quantum "
            "feed-forward (-qmlp), not quantum projections (qproj) or classical layers alone"
        )
    if args.fine_tune:
        variant = args.variant or "hybrid-angle-cmx-pe"
        options = {"shots": args.shots, "epochs": args.epochs, "n_events": args.events}
        record = run_shot_fine_tuning(variant, args.protocol, **options)
        for arm, result in record["arms"].items():
            aucs = ", ".join(f"{m['auc']:.4f}" for m in result["shots"])
            print(f"{arm:14s}: exact AUC {result['exact']['auc']:.4f}; at {args.shots} shots {aucs}")
        return 0
    paper_angle = {f"hybrid-angle-{p}-{e}" for p in ("cls", "cmx", "cmn") for e in ("pe", "nope")}
    runs = [
        (r["variant"], r["seed"])
        for r in load_results(args.protocol).values()
        if (r["variant"] == args.variant if args.variant else r["variant"] in paper_angle)
    ]
    if not runs:
        raise SystemExit(f"device: no committed {args.variant or 'hybrid-angle'} run under protocol {args.protocol!r}")
    for variant, seed in sorted(runs):
        record = run_device_scan(variant, args.protocol, seed, n_events=args.events)
        worst = min(r["auc"] for r in record["rows"] if r["knob"] == "shots")
        print(
            f"{run_name(variant, seed)}: exact AUC {record['exact']['auc']:.4f}, lowest with shots {worst:.4f} "
            f"({record['wall_seconds']:.0f} s)"
        )
    return 0


def _cmd_gan(args: argparse.Namespace) -> int:
    # lazy: loads torch; importing this module does not
    from qvit_lib.runs.gan_evaluation import evaluate_run

    # lazy: loads torch; importing this module does not
    from qvit_lib.runs.gan_runs import gan_config, gan_paths, gan_protocol, run_gan, write_generated

    gan_config(args.model)
    gan_protocol(args.protocol)
    command = f"python -m qvit_lib gan --model {args.model} --protocol {args.protocol} --seed {args.seed}"
    if args.out is not None:
        path = write_generated(
            args.model, args.n, Path(args.out), protocol=args.protocol, seed=args.seed, overwrite=args.overwrite
        )
        print(f"wrote {path}: {args.n} generated showers in the CMS format; read them with QVIT_DATA={path}")
        return 0
    files = gan_paths(args.model, args.protocol, args.seed)
    if not args.evaluate:
        if files.record.exists() and not args.resume:
            raise ConfigError(
                f"gan: {files.record} already exists; evaluate it with --evaluate, or remove it to train again"
            )
        record = _interruptible(
            lambda: run_gan(args.model, args.protocol, seed=args.seed, resume=args.resume), command + " --resume"
        )
        print(
            f"wrote {files.record} ({record['wall_seconds']:.0f} s of training, weights of step {record['best_step']})"
        )
    result = evaluate_run(args.model, args.protocol, args.seed)
    for name, per_class in result["evaluation"]["classes"].items():
        made, floors = per_class["generated"], per_class["floor"]
        floor_auc = max(f["classifier_high_level"]["auc"] for f in floors)
        print(
            f"{name:8s}: classifier AUC low-level {made['classifier_low_level']['auc']:.3f}, high-level "
            f"{made['classifier_high_level']['auc']:.3f} (floor up to {floor_auc:.3f}); "
            f"FPD {made['fpd'][0]:.4f} ± {made['fpd'][1]:.4f}"
        )
    print(f"wrote the evaluation ({result['wall_seconds']:.0f} s)")
    return 0


def _interruptible(work, resume_command: str):
    """Run ``work()``; on Ctrl-C say what was kept and how to go on, then exit with 130."""

    try:
        return work()
    except TrainingInterrupted as stop:
        print(f"interrupted: {stop}\nto continue: {resume_command}", file=sys.stderr)
        raise SystemExit(130) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m qvit_lib``: one subcommand per task."""
    parser = argparse.ArgumentParser(
        prog="python -m qvit_lib",
        description="QViT book tools: simulate and inspect data, count parameters, train, benchmark.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sim = commands.add_parser("simulate", help="simulate electron and photon showers into HDF5 files in the CMS format")
    sim.add_argument(
        "--n", type=_positive_int, required=True, help="number of events, half photons and half electrons (even)"
    )
    sim.add_argument(
        "--out", required=True, help="a .h5/.hdf5 file (one mixed file) or a directory (one file per class)"
    )
    sim.add_argument(
        "--seed", type=_seed, default=0, help="random seed, >= 0 (default 0); the same seed gives the same events"
    )
    sim.add_argument("--overwrite", action="store_true", help="replace output files that exist already")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.set_defaults(run=_cmd_simulate)

    info = commands.add_parser(
        "info", help="describe a data file or directory: events per class, shapes, ranges, simulation or CMS"
    )
    info.add_argument(
        "path",
        nargs="?",
        default=None,
        help="an HDF5 file or a directory holding the photon and electron files (default: $QVIT_DATA or the "
        "committed sample)",
    )
    info.set_defaults(run=_cmd_info)

    sep = commands.add_parser(
        "separability", help="how separable electrons and photons are: shower-shape and pixel baselines"
    )
    sep.add_argument(
        "path", nargs="?", default=None, help="data location (default: $QVIT_DATA or the committed sample)"
    )
    sep.add_argument("--n-per-class", type=_positive_int, default=10000, help="events per class to use (default 10000)")
    sep.add_argument("--seed", type=_seed, default=0, help="seed of the split between fit and test halves (default 0)")
    sep.set_defaults(run=_cmd_separability)

    params = commands.add_parser(
        "params", help="trainable parameters of every variant: model, closed-form formula, paper"
    )
    sizes = {
        "n_layers": ("encoder layers n_l", 5),
        "d_token": ("token length d_t", 16),
        "n_heads": ("attention heads n_h", 4),
        "d_ff": ("MLP hidden size d_ff", 16),
        "d_patch": ("flattened patch length d_i", 32),
        "projection_layers": ("qproj: circuit layers L per projection", 1),
    }
    for name, (what, default) in sizes.items():
        low, high = _PARAMS_RANGES[name]
        params.add_argument(
            f"--{name.replace('_', '-')}",
            type=_integer_between(low, high),
            default=default,
            help=f"{what}, {low} to {high} (default {default}"
            + ("; more than 1 on 16 qubits is refused, see chapter 9)" if name == "projection_layers" else ")"),
        )
    params.add_argument("--match", default=None, help="only variants whose name contains this, e.g. qmlp or qproj")
    params.set_defaults(run=_cmd_params)

    # lazy: loads torch; importing this module does not
    from qvit_lib.runs.experiments import (
        EVERY_SEED_PROTOCOLS,
        PROTOCOLS,
        SEEDED_VARIANTS,
        SWEEP_FAMILIES,
        SWEEP_SEEDS,
    )

    protocols = "; ".join(f"{p.name}: {p.description}" for p in PROTOCOLS.values())
    train = commands.add_parser(
        "train",
        help="train one variant under a protocol and write its results under data/results/",
        description=f"Train one variant. Protocols — {protocols}. Attention runs a C++ kernel built for this "
        "machine (QVIT_COMPILE=0: PyTorch's kernel); QVIT_COMPILE=inductor also compiles the step with torch.compile.",
    )
    train.add_argument(
        "--variant",
        required=True,
        help="<attention>-<pooling>-<pe|nope>[-qmlp][-rk2|-rk3|-rk4], e.g. hybrid-angle-cmx-pe (see `params` for all), "
        "or the CNN baseline resnet15-<energy|time|both>",
    )
    train.add_argument("--protocol", required=True, help=f"one of: {', '.join(PROTOCOLS)}")
    train.add_argument("--seed", type=_seed, default=0, help="seed of the weights and the shuffling, >= 0 (default 0)")
    train.add_argument("--resume", action="store_true", help="continue an interrupted run from its last checkpoint")
    train.add_argument("--results-dir", type=Path, default=None, help="where results go (default: data/results)")
    train.set_defaults(run=_cmd_train)

    sw = commands.add_parser(
        "sweep",
        help="train every variant under a protocol, skipping finished ones",
        description=f"Every variant with seed 0, plus {', '.join(SEEDED_VARIANTS)} with the other seeds "
        f"(protocols {', '.join(EVERY_SEED_PROTOCOLS)}: every variant with every seed); "
        "finished runs are skipped and interrupted ones resumed. Under torchrun the runs are shared "
        f"between the processes. Protocols — {protocols}.",
    )
    sw.add_argument("--protocol", required=True, help=f"one of: {', '.join(PROTOCOLS)}")
    sw.add_argument(
        "--seeds",
        type=_seed,
        nargs="+",
        default=list(SWEEP_SEEDS),
        help="seeds for the cmx-pe variants, or for every variant under converged (default 0 1 2)",
    )
    sw.add_argument(
        "--workers",
        type=_integer_at_least(0, "non-negative"),
        default=None,
        help="single-threaded worker processes sharing the runs (default: one per core; 0: this process alone)",
    )
    sw.add_argument(
        "--family",
        choices=SWEEP_FAMILIES,
        default="paper",
        help="paper: the paper's 22 variants (default); design: chapter 9's runs of new layers "
        "(under converged: the best variant of each new family, every seed); cnn: the ResNet-15 baseline "
        "on energy, time and both, every seed; tuned (with --protocol tuned): the equally tuned models",
    )
    sw.add_argument(
        "--engine",
        choices=("processes", "ray"),
        default="processes",
        help="processes: single-threaded workers on this machine sharing the runs by lock files (default); "
        "ray: each run a Ray task, on this machine's cores or on the cluster given by --address",
    )
    sw.add_argument("--address", default=None, help="--engine ray: the Ray cluster to join (e.g. auto, or host:6379)")
    sw.add_argument("--results-dir", type=Path, default=None, help="where results go (default: data/results)")
    sw.set_defaults(run=_cmd_sweep)

    tu = commands.add_parser(
        "tune",
        help="equal tuning: search learning rate, weight decay and warm-up for one model with Ray Tune (ASHA)",
        description="The same search for every model: random draws of learning rate, weight decay and warm-up, "
        "trained on the cpu protocol and cut early by ASHA on the validation AUC. Writes "
        "data/results/tuning/<protocol>/<variant>.json; sweep --protocol tuned --family tuned retrains with it.",
    )
    tu.add_argument("--variant", required=True, help="a variant name, e.g. classical-cmx-pe or resnet15-energy")
    tu.add_argument("--trials", type=_positive_int, default=None, help="trials (default 24; the same for every model)")
    tu.add_argument("--protocol", default=None, help="protocol of the trials (default cpu)")
    tu.add_argument("--seed", type=_seed, default=0, help="seed of the draws and of the models (default 0)")
    tu.add_argument("--address", default=None, help="a Ray cluster to join (default: start Ray on this machine)")
    tu.add_argument("--cpus", type=_positive_int, default=None, help="CPUs of a local Ray (default: every core)")
    tu.add_argument("--results-dir", type=Path, default=None, help="where results go (default: data/results)")
    tu.set_defaults(run=_cmd_tune)

    sc = commands.add_parser(
        "scores",
        help="store every committed run's logits on its test events, for paired tests (chapter 7)",
        description="Score each committed run of a protocol on its test split (checked against the recorded AUC) "
        "and write data/results/<protocol>/<run>.scores.npz; runs already scored and not retrained since are kept.",
    )
    sc.add_argument("--protocol", required=True, help=f"one of: {', '.join(PROTOCOLS)}")
    sc.add_argument("--results-dir", type=Path, default=None, help="where results are (default: data/results)")
    sc.set_defaults(run=_cmd_scores)

    device = commands.add_parser(
        "device",
        help="the committed hybrid-angle runs as a quantum computer would run them: shots, noise (chapter 10)",
        description="Scan every committed hybrid-angle run of a protocol (or --variant, e.g. the quantum feed-forward "
        "classical-cmx-pe-qmlp) against shots, depolarising "
        "noise and readout error, writing data/results/hardware/<protocol>/<run>.json; "
        "with --fine-tune, go on training "
        "the seed-0 model with and without shots in the loop and compare.",
    )
    device.add_argument("--protocol", default="cpu", help="whose committed runs (default cpu)")
    device.add_argument(
        "--variant", default=None, help="one variant instead of every hybrid-angle one, e.g. classical-cmx-pe-qmlp"
    )
    device.add_argument("--events", type=_positive_int, default=4000, help="test events per setting (default 4000)")
    device.add_argument("--fine-tune", action="store_true", help="the fine-tuning experiment instead of the scan")
    device.add_argument("--shots", type=_positive_int, default=100, help="shots in the loop, with --fine-tune")
    device.add_argument("--epochs", type=_positive_int, default=2, help="epochs of fine-tuning, with --fine-tune")
    device.set_defaults(run=_cmd_device)

    gan = commands.add_parser(
        "gan",
        help="train and evaluate a conditional shower GAN (chapter 11), or write its showers in the CMS format",
        description="Train one of chapter 11's GANs on the data's training split under a protocol (quick, cpu), keep "
        "the weights with the best validation score, evaluate it against the test split beside the simulated floor, "
        "and write data/results/gan/. With --out, write generated showers in the CMS format instead.",
    )
    gan.add_argument(
        "--model", required=True, help="gan-classical, gan-hybrid-angle, gan-qrkt, gan-qrkt-generator, "
        "gan-qrkt-discriminator or gan-cnn"
    )  # fmt: skip
    gan.add_argument("--protocol", default="cpu", help="quick or cpu (default cpu)")
    gan.add_argument("--seed", type=_seed, default=0, help="initial weights and sampling (default 0)")
    gan.add_argument("--resume", action="store_true", help="continue from the run's checkpoint")
    gan.add_argument("--evaluate", action="store_true", help="evaluate the trained run again, without training")
    gan.add_argument("--out", default=None, help="write generated showers to this .h5 file instead of training")
    gan.add_argument("--n", type=_positive_int, default=10_000, help="showers to write with --out (default 10000)")
    gan.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    gan.set_defaults(run=_cmd_gan)

    bench = commands.add_parser("bench", help="benchmarks that print figures (not tests)")
    bench.add_argument(
        "--suite",
        choices=("training", "targets", "peers", "design", "simulation", "sweep", "gan"),
        default="training",
        help="training steps, the training step's speed targets (every path, with profiles), the paper's public "
        "code and PennyLane beside the book's steps (needs the extra 'peers'), chapter 9's "
        "variants beside the classical step, the simulator, a sweep's throughput by processes × threads, or the "
        "shower GAN's generators beside the simulator (default: training)",
    )
    bench.add_argument(
        "--baseline",
        default=None,
        help="training suite: a git revision whose training steps are timed side by side with today's",
    )
    bench.add_argument(
        "--n", type=_positive_int, default=100_000, help="simulation suite: events to simulate (default 100000)"
    )
    bench.add_argument("--quick", action="store_true", help="small sizes, to check that the benchmark runs")
    bench.add_argument("--json", action="store_true", help="also print the results as JSON")
    bench.add_argument(
        "--out",
        default=None,
        help="where to write the JSON (default data/bench/<suite>.json; quick: data/cache/bench/)",
    )
    bench.set_defaults(run=_cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. The library's own errors (:class:`~qvit_lib.core.errors.QvitError`: bad
    data, arguments, checkpoints; a diverged run) print ``error: …`` and exit with 2; any
    other exception is a bug and keeps its traceback."""

    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except QvitError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

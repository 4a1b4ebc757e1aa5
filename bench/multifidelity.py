"""Multi-fidelity: the best model found against the epochs spent, on a fixed budget of epochs.

Every run tunes the demo's MLP space (learning rate, layers, units, batch size,
dropout, weight decay) with real training, each trial at most `--max-epochs`
epochs (patience 3), until the run has spent `--budget` epochs in all:

- hyperdial runs are studies with `fidelity: {max_steps, total_steps: budget}`
  on a real server, tuned by two `hyperdial trainer` processes; bayes models
  the learning curves (`model_curves`, its default; the `/no-curves` methods
  without), and the `/short-start` methods declare `min_steps` (a third of
  `max_steps`), so bayes' initial design trains a third of the epochs;
  `bayes+median/blind` is bayes as it was before stopped trials and curves
  entered its model, the reference for near-duplicate proposals;
- the anchors are Optuna's TPE with its MedianPruner or HyperbandPruner, as
  Optuna ships them, training with the same code, one trial at a time, a new
  trial only while a full `--max-epochs` is left (as the study's grants).

At 25%, 40%, 50% and 100% of the budget (epochs counted over trials in the
order they finished), each run's best validation loss so far is read, and the
trial it would ship is retrained on train + validation for its best
validation epoch count (as `hyperdial retrain` does) and scored on the test
split: for ours the service's recommended trial (`GetBestTrials`: the model's
pick, trials at their settled values), for Optuna its `best_trial`. Only
trials trained on a full grant of epochs count, as in the service: a trial
granted fewer (the short initial design) ended early. `reaches bayes`: the
least share of the budget (in 5% steps, read without retraining) at which a
method's median best validation loss is within 2% of bayes without
stopping's final median (the issue's target: 40% of the epochs or less).
Near-duplicate proposals: model-proposed trials (bayes after its initial
design, TPE after its startup trials) within 0.05 of an earlier trial in the
unit cube. Paired: each of ours against each anchor on the same seeds
(`_paired`): the seeds whose test loss at half the budget is no worse than
the anchor's, the median per-seed difference, and the difference of the
medians with a 95% bootstrap interval.

    python bench/multifidelity.py [--seeds 3] [--first-seed 0] [--datasets digits,wine,noisy]
        [--methods bayes,bayes+median,...] [--budget 300] [--max-epochs 15]
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from _common import machine, mlp_digits_space, noisy_classification, optuna_params, report
from _fidelity_scoring import (
    CHECKPOINTS,
    CPU,
    Finished,
    paired_row,
    score,
    share_to_reach,
    summarize,
)
from _paired import paired
from hyperdial.client import (
    Client,
    hyperband,
    median_stopping,
    model_stopping,
    step_budget,
    successive_halving,
)
from hyperdial.client.params import values_from_proto
from hyperdial.client.tools.local import LocalServer
from hyperdial.trainers.data import Dataset, load_dataset
from hyperdial.trainers.spaces import MLP_DIGITS
from hyperdial.trainers.training import fit
from hyperdial.v1 import hyperdial_pb2 as pb

INITIAL_TRIALS = 8  # bayes' initial design (TPE's startup trials: its default, 10)
TPE_STARTUP = 10
MODEL_RULE = model_stopping(min_probability=0.05, min_trials=5)
HALVING = successive_halving(min_step=1, reduction_factor=3)
LATE_HALVING = successive_halving(min_step=3, reduction_factor=3)  # first rung at epoch 3
HYPERBAND = hyperband(max_step=15)  # --max-epochs' default: brackets from steps 1, 3 and 9
MEDIAN = median_stopping(min_trials=5, warmup_steps=2)


@dataclass(frozen=True)
class Ours:
    """One of our methods: an algorithm, its options, a stopping rule.

    `short_start` declares `min_steps` (a third of the epochs a trial may
    train), so bayes' initial design asks for short trials (`initial_fidelity`).
    """

    algorithm: str
    options: dict[str, Any]
    stopping: Any = None
    short_start: bool = False


OURS: dict[str, Ours] = {
    "bayes": Ours("bayes", {}),
    "bayes+median": Ours("bayes", {}, MEDIAN),
    "bayes+halving": Ours("bayes", {}, HALVING),
    "bayes+model": Ours("bayes", {}, MODEL_RULE),
    "bayes+model/short-start": Ours("bayes", {}, MODEL_RULE, short_start=True),
    "bayes/short-start": Ours("bayes", {}, short_start=True),
    "bayes+halving/short-start": Ours("bayes", {}, HALVING, short_start=True),
    "bayes+hyperband/short-start": Ours("bayes", {}, HYPERBAND, short_start=True),
    "bayes+late-halving/short-start": Ours("bayes", {}, LATE_HALVING, short_start=True),
    # Stopped trials read as final values too (`stopped_as_final`).
    "bayes+model/as-final": Ours(
        "bayes", {"stopped_as_final": True}, MODEL_RULE, short_start=True
    ),
    # Without learning curves in the model (as before `model_curves`), for the record.
    "bayes/no-curves": Ours("bayes", {"model_curves": False}),
    "bayes+model/no-curves": Ours("bayes", {"model_curves": False}, MODEL_RULE),
    # As the service was before stopped trials entered the model: blind to them and to curves.
    "bayes+median/blind": Ours(
        "bayes",
        {"model_curves": False, "model_pruned": False, "stopped_radius": 0.0},
        MEDIAN,
    ),
    "random+halving": Ours("random", {}, HALVING),
}
OPTUNA_PRUNERS = {
    "tpe+median": lambda: optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2),
    "tpe+hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3),
}
METHODS = (*OURS, *OPTUNA_PRUNERS)


def run_ours(
    server: LocalServer, client: Client, method: str, data: str, seed: int, args: Any
) -> list[Finished]:
    ours = OURS[method]
    options = ours.options
    if ours.algorithm == "bayes":
        options = {**options, "initial_trials": INITIAL_TRIALS}
    min_steps = args.max_epochs // 3 if ours.short_start else 0
    name = f"mf-{method.replace('+', '-').replace('/', '-')}-{Path(data).stem}-{seed}"
    study = client.create_study(
        name,
        list(MLP_DIGITS),
        metric="val_loss",
        algorithm=ours.algorithm,
        options=options,
        seed=seed,
        stopping=ours.stopping,
        fidelity=step_budget(args.max_epochs, total_steps=args.budget, min_steps=min_steps),
    )
    command = [sys.executable, "-m", "hyperdial.trainers", "--server", server.address]
    command += ["--study", name, "--device", "cpu", "--dataset", data, "--seed", str(seed)]
    trainers = [subprocess.Popen(command, stderr=subprocess.DEVNULL) for _ in range(2)]
    for trainer in trainers:
        trainer.wait()
    trials = []
    for page in _pages(client, study.name):
        trials += [t for t in page if t.state in (pb.COMPLETED, pb.PRUNED)]
    trials.sort(key=lambda t: (t.finish_time.ToNanoseconds(), t.id))
    # As the service's recommendation reads them: a trial granted fewer epochs than a
    # full one (the short initial design, the last of the budget) ended early.
    return [
        Finished(
            values_from_proto(t.parameters),
            [m.value for m in t.measurements],
            t.state == pb.COMPLETED and not 0 < t.step_budget < args.max_epochs,
        )
        for t in trials
    ]


def _pages(client: Client, study: str) -> Iterator[list[pb.Trial]]:
    """The study's trials with their curves and finish times, a page at a time."""
    token = ""
    while True:
        request = pb.ListTrialsRequest(study=study, include_measurements=True, page_token=token)
        page = client.call(client.stub.ListTrials, request)
        yield list(page.trials)
        token = page.next_page_token
        if not token:
            return


def run_optuna(method: str, dataset: Dataset, seed: int, args: Any) -> list[Finished]:
    # Named, because HyperbandPruner puts a trial in its bracket by a hash of the study's
    # name: an unnamed study's name is random, and so would each run's brackets be.
    study = optuna.create_study(
        study_name=f"{method}-{seed}",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=OPTUNA_PRUNERS[method](),
    )
    finished: list[Finished] = []
    spent = 0
    while args.budget - spent >= args.max_epochs:
        trial = study.ask()
        done = _train_optuna_trial(trial, dataset, seed * 1000 + len(finished), args.max_epochs)
        spent += len(done.curve)
        if done.final:
            study.tell(trial, min(done.curve))
        else:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        finished.append(done)
    return finished


def _train_optuna_trial(
    trial: optuna.Trial, dataset: Dataset, seed: int, max_epochs: int
) -> Finished:
    params = optuna_params(trial, mlp_digits_space())
    curve: list[float] = []

    def on_epoch(epoch: int, loss: float, _accuracy: float) -> bool:
        curve.append(loss)
        trial.report(loss, epoch)
        return trial.should_prune()

    config = {**params, "epochs": max_epochs}
    result = fit(dataset, config, device=CPU, seed=seed, on_epoch=on_epoch)
    return Finished(params, curve, final=not result.stopped_by_server)


def _share(share: float) -> str:
    return "never" if math.isnan(share) else f"{share:.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run from here on")
    parser.add_argument("--datasets", default="digits,wine,noisy")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--budget", type=int, default=300, help="epochs per run")
    parser.add_argument("--max-epochs", type=int, default=15, help="epochs per trial at most")
    parser.add_argument(
        "--retrains", type=int, default=1, help="retrains of each pick, test loss their mean"
    )
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    datasets = [d for d in args.datasets.split(",") if d]
    methods = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"--methods: unknown {', '.join(unknown)}; known: {', '.join(METHODS)}")
    if args.retrains < 1:
        parser.error(f"--retrains: must be at least 1, got {args.retrains}")
    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalServer(f"sqlite:///{Path(tmp) / 'mf.db'}") as server,
        Client(server.address, timeout=120) as client,
    ):
        for name in datasets:
            data = str(noisy_classification(Path(tmp))) if name == "noisy" else name
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                dataset = load_dataset(data, seed=seed)  # the trainers' split (--seed)
                for method in methods:
                    ours = method in OURS
                    if ours:
                        finished = run_ours(server, client, method, data, seed, args)
                    else:
                        finished = run_optuna(method, dataset, seed, args)
                    row = score(
                        method,
                        name,
                        seed,
                        finished,
                        dataset,
                        args.budget,
                        args.retrains,
                        ours=ours,
                        initial=INITIAL_TRIALS if ours else TPE_STARTUP,
                    )
                    shown = {k: v for k, v in row.items() if k != "finished"}
                    print(shown, file=sys.stderr, flush=True)
                    rows.append(row)
    summary = summarize(rows, datasets, methods)
    for key, entry in summary.items():
        name, method = key.split("/", 1)
        entry["share_to_bayes_final"] = (
            share_to_reach(rows, name, method, "bayes", args.budget)
            if "bayes" in methods
            else math.nan
        )
    anchors = [m for m in methods if m not in OURS]
    pairs = paired(rows, datasets, [m for m in methods if m in OURS], anchors, "test@50%")
    columns = ["dataset/method", "epochs", "near dup.", "reaches bayes"]
    columns += [f"{k} @{round(f * 100)}%" for f in CHECKPOINTS for k in ("val", "test")]
    report(
        f"Multi-fidelity: {args.budget} epochs per run, at most {args.max_epochs} a trial, "
        f"{args.seeds} seeds, test loss the mean of {args.retrains} retrain(s)",
        columns,
        [
            (
                key,
                f"{s['epochs']:g}",
                f"{s['near_duplicates']}/{s['model_proposed']}",
                _share(s["share_to_bayes_final"]),
                *(
                    f"{s[f'{k}@{round(f * 100)}%']:.4f}"
                    for f in CHECKPOINTS
                    for k in ("val", "test")
                ),
            )
            for key, s in summary.items()
        ]
        + [paired_row(columns, key, p) for key, p in pairs.items()],
        {
            "summary": summary,
            "paired": pairs,
            "runs": rows,
            "machine": machine(),
            "budget": args.budget,
            "retrains": args.retrains,
        },
    )


if __name__ == "__main__":
    main()

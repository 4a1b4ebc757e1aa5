"""`hyperdial study …`: create studies from files, look at them, export their trials.

hyperdial study create --config study.yaml
hyperdial study list
hyperdial study show NAME
hyperdial study trials NAME [--format table|csv|json] [--state COMPLETED]
hyperdial study watch NAME [--interval 2]
hyperdial study export NAME -o trials.csv
hyperdial study delete NAME
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from hyperdial.client.client import Client
from hyperdial.client.errors import HyperdialError, InvalidArgumentError
from hyperdial.client.params import ParamValue
from hyperdial.client.study import Study, Trial
from hyperdial.client.tools.study_file import StudyFileError, load_study_file
from hyperdial.client.views import Recommendation, StudyInfo
from hyperdial.v1 import hyperdial_pb2 as pb

SHOWN_BEST = 5


def _columns(trials: Sequence[Trial]) -> list[str]:
    names: list[str] = []
    for trial in trials:
        names += [n for n in trial.params if n not in names]
    return names


def trial_rows(trials: Sequence[Trial]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of a trial table.

    Columns: number, state, value, worker, every parameter, then every reported
    metric that is not also a parameter's name.
    """
    names = _columns(trials)
    metrics: list[str] = []
    for trial in trials:
        metrics += [m for m in trial.metrics if m not in metrics and m not in names]
    header = ["trial", "state", "value", "worker", *names, *metrics, "reason"]
    rows = [
        [
            t.id,
            t.state + (" (violates constraints)" if t.violates_constraints else ""),
            t.value,
            t.worker_id,
            *(t.params.get(n) for n in names),
            *(t.metrics.get(m) for m in metrics),
            t.reason,
        ]
        for t in trials
    ]
    return header, rows


def write_csv(trials: Sequence[Trial], out: io.TextIOBase | Any) -> None:
    """Trials as CSV (empty cells for missing values)."""
    header, rows = trial_rows(trials)
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([["" if cell is None else cell for cell in row] for row in rows])


def _table(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    table = Table(title=title)
    for column in header:
        table.add_column(column, justify="right" if column in ("trial", "value") else "left")
    for row in rows:
        table.add_row(
            *("" if c is None else f"{c:.6g}" if isinstance(c, float) else str(c) for c in row)
        )
    return table


def _progress(info: StudyInfo) -> Table:
    config = info.config
    budget = config.max_trials or "∞"
    done = sum(v for k, v in info.trial_counts.items() if k != "PENDING")
    table = Table(title=f"study {info.name}", show_header=False)
    table.add_row("state", info.state)
    for objective in config.objectives or [config.objective]:
        goal = pb.Goal.Name(objective.goal).lower()
        table.add_row("objective", f"{goal} {objective.metric}")
    for constraint in config.constraints:
        bounds = []
        if constraint.HasField("lower_bound"):
            bounds.append(f"{constraint.metric} >= {constraint.lower_bound:g}")
        if constraint.HasField("upper_bound"):
            bounds.append(f"{constraint.metric} <= {constraint.upper_bound:g}")
        table.add_row("constraint", ", ".join(bounds))
    table.add_row("algorithm", config.algorithm.name)
    table.add_row(
        "trials",
        f"{done} finished of {budget}; "
        + ", ".join(f"{k} {v}" for k, v in sorted(info.trial_counts.items()) if v),
    )
    table.add_row("parameters", ", ".join(p.name for p in config.parameters))
    if info.best_trial is not None:
        table.add_row("best", f"trial {info.best_trial.id}: {info.best_trial.value:.6g}")
    return table


def _show(study: Study) -> Group:
    info = study.info()
    if info.config.objectives:
        front = study.pareto_front()
        trials = front.trials
        header, rows = trial_rows(trials)
        reference = ", ".join(f"{r:.6g}" for r in front.reference_point)
        title = (
            f"Pareto front: {len(trials)} trials, hypervolume {front.hypervolume:.6g} "
            f"(reference {reference})"
        )
        return Group(_progress(info), _table(title, header, rows))
    best = study.best_trials(SHOWN_BEST)
    header, rows = trial_rows(best)
    parts: list[Any] = [_progress(info)]
    recommended = study.recommended()
    if recommended is not None:
        parts.append(_recommendation(recommended))
    return Group(*parts, _table(f"best {len(best)} trials by observed value", header, rows))


def _recommendation(recommended: Recommendation) -> Table:
    """The recommended trial, with the model's estimate beside the observed value."""
    trial = recommended.trial
    table = Table(title="recommended", show_header=False)
    table.add_column("field")
    table.add_column("value")
    table.add_row("trial", f"{trial.id}: observed {trial.value:.6g}")
    if recommended.estimate is not None:
        table.add_row(
            "model estimate", f"{recommended.estimate:.6g} ± {recommended.estimate_sd:.2g}"
        )
        table.add_row("noise sd", f"{recommended.noise_sd:.2g} (one evaluation's scatter)")
    table.add_row("rule", f"{recommended.rule}: {recommended.reason}")
    table.add_row("params", ", ".join(f"{k}={v}" for k, v in sorted(trial.params.items())))
    return table


def _create(client: Client, args: argparse.Namespace, console: Console) -> None:
    spec = load_study_file(args.config)
    try:
        client.create_study(spec.name, spec.parameters, **spec.create_kwargs)
    except InvalidArgumentError as error:
        line = spec.line_of(error.field)
        where = f"{spec.path}:{line}: " if line else f"{spec.path}: "
        raise StudyFileError(f"{where}{error.field}: {error.message}") from None
    console.print(f"study {spec.name} ready ({len(spec.parameters)} parameters)")


def _list(client: Client, console: Console) -> None:
    rows = []
    for info in client.list_studies():
        done = info.trial_counts.get("COMPLETED", 0)
        best = info.best_trial.value if info.best_trial is not None else None
        rows.append(
            [
                info.name,
                info.state,
                info.config.algorithm.name,
                done,
                info.config.max_trials or "∞",
                best,
            ]
        )
    console.print(
        _table("studies", ["name", "state", "algorithm", "completed", "budget", "best"], rows)
    )


def _trials(study: Study, args: argparse.Namespace, console: Console) -> None:
    states = [pb.TrialState.Value(s) for s in args.state]
    trials = list(study.trials(states))
    if args.format == "csv":
        write_csv(trials, sys.stdout)
    elif args.format == "json":
        print(
            json.dumps(
                [
                    {
                        "trial": t.id,
                        "state": t.state,
                        "value": t.value,
                        "worker": t.worker_id,
                        "params": t.params,
                        "metrics": t.metrics,
                        "violates_constraints": t.violates_constraints,
                        "reason": t.reason,
                    }
                    for t in trials
                ],
                indent=2,
            )
        )
    else:
        header, rows = trial_rows(trials)
        console.print(_table(f"trials of {study.name}", header, rows))


def _parse(parameter: pb.Parameter, cell: str) -> ParamValue:
    kind = parameter.WhichOneof("domain")
    if kind == "int_range":
        return int(float(cell))
    if kind == "float_range":
        return float(cell)
    return cell


def read_completed(
    path: Path, config: pb.StudyConfig
) -> list[tuple[dict[str, ParamValue], float | None, dict[str, float]]]:
    """COMPLETED rows of an exported CSV, in this study's terms.

    Each row gives this study's parameters and the metrics its objectives and
    constraints need; a study with several objectives takes no value.
    """
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    needed = [o.metric for o in config.objectives] + [c.metric for c in config.constraints]
    completed = []
    for row in rows:
        if not row.get("state", "").startswith("COMPLETED") or not row.get("value"):
            continue
        params = {
            p.name: _parse(p, row[p.name]) for p in config.parameters if row.get(p.name, "") != ""
        }
        metrics = {name: float(row[name]) for name in needed if row.get(name, "") != ""}
        value = None if config.objectives else float(row["value"])
        completed.append((params, value, metrics))
    return completed


def _import(study: Study, source: Path, console: Console) -> None:
    completed = read_completed(source, study.info().config)
    if not completed:
        raise StudyFileError(f"{source}: no COMPLETED trial to import")
    imported = study.import_trials(completed)
    console.print(f"imported {len(imported)} completed trials into {study.name}")


def _watch(study: Study, interval: float, console: Console) -> None:
    with Live(_show(study), console=console, refresh_per_second=4) as live:
        while True:
            time.sleep(interval)
            live.update(_show(study))
            if study.info().finished:
                return


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `hyperdial study`."""
    parser = argparse.ArgumentParser(
        prog="hyperdial study",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--server", default=os.environ.get("HYPERDIAL_SERVER", "127.0.0.1:50051"))
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a study from a YAML/JSON file")
    create.add_argument("--config", required=True, type=Path)
    commands.add_parser("list", help="every study with its progress")
    for name in ("show", "watch", "delete"):
        commands.add_parser(name).add_argument("name")
    commands.choices["watch"].add_argument("--interval", type=float, default=2.0)
    trials = commands.add_parser("trials", help="a study's trials")
    trials.add_argument("name")
    trials.add_argument("--format", choices=["table", "csv", "json"], default="table")
    trials.add_argument(
        "--state",
        action="append",
        default=[],
        choices=[n for n in pb.TrialState.keys() if n != "TRIAL_STATE_UNSPECIFIED"],  # noqa: SIM118
    )
    export = commands.add_parser("export", help="a study's trials as CSV")
    export.add_argument("name")
    export.add_argument("-o", "--output", type=Path, required=True)
    imports = commands.add_parser("import", help="completed trials from an exported CSV")
    imports.add_argument("name")
    imports.add_argument("--from", dest="source", type=Path, required=True)
    args = parser.parse_args(argv)
    console = Console()
    try:
        with Client(args.server) as client:
            if args.command == "create":
                _create(client, args, console)
            elif args.command == "list":
                _list(client, console)
            elif args.command == "show":
                console.print(_show(client.study(args.name)))
            elif args.command == "trials":
                _trials(client.study(args.name), args, console)
            elif args.command == "watch":
                _watch(client.study(args.name), args.interval, console)
            elif args.command == "import":
                _import(client.study(args.name), args.source, console)
            elif args.command == "export":
                with args.output.open("w", newline="") as out:
                    write_csv(list(client.study(args.name).trials()), out)
                console.print(f"wrote {args.output}")
            else:
                client.delete_study(args.name)
                console.print(f"deleted study {args.name}")
    except (StudyFileError, HyperdialError) as error:
        sys.exit(f"hyperdial study: {error}")
    except KeyboardInterrupt:
        sys.exit(130)

"""`hyperdial study …`: create studies from files, look at them, export their trials.

hyperdial study create --config study.yaml
hyperdial study list
hyperdial study show NAME
hyperdial study trials NAME [--format table|csv|json] [--state COMPLETED]
hyperdial study watch NAME [--interval 2]
hyperdial study export NAME -o trials.csv
hyperdial study update NAME --max-trials 50 [--total-steps 600]
hyperdial study stop NAME TRIAL
hyperdial study pause NAME / hyperdial study resume NAME
hyperdial study enqueue NAME --params '{"lr": 0.01, "layers": 2}' [--file configs.yaml]
hyperdial study delete NAME
"""

from __future__ import annotations

import argparse
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
from hyperdial.client.study import Study
from hyperdial.client.tools.study_csv import read_completed, trial_rows, write_csv
from hyperdial.client.tools.study_file import (
    StudyFileError,
    load_study_file,
    read_configurations,
)
from hyperdial.client.views import Recommendation, StudyInfo
from hyperdial.v1 import hyperdial_pb2 as pb

SHOWN_BEST = 5
# Up to this many rows, a table too wide for the terminal is shown on its side.
MAX_TURNED_ROWS = 8


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table(
    title: str, header: Sequence[str], rows: Iterable[Sequence[Any]], width: int = 0
) -> Table:
    """A table that stays readable in a terminal `width` columns wide (0: any width).

    Columns with no value in any row are left out. A few rows too wide for the
    terminal are turned on their side, one column per row (a trial); many rows
    stay rows and wrap their cells.
    """
    cells = [[_cell(c) for c in row] for row in rows]
    shown = [k for k in range(len(header)) if any(row[k] for row in cells)] or list(
        range(len(header))
    )
    natural = sum(max([len(header[k]), *(len(row[k]) for row in cells)]) + 3 for k in shown)
    if width and natural > width and 0 < len(cells) <= MAX_TURNED_ROWS:
        turned = Table(title=title, show_header=False)
        turned.add_column(style="bold", no_wrap=True, min_width=max(len(header[k]) for k in shown))
        for _ in cells:
            turned.add_column(justify="right", overflow="fold")
        for k in shown:
            turned.add_row(header[k], *(row[k] for row in cells))
        return turned
    table = Table(title=title)
    for k in shown:
        numeric = header[k] in ("trial", "value")
        table.add_column(header[k], justify="right" if numeric else "left", overflow="fold")
    for row in cells:
        table.add_row(*(row[k] for k in shown))
    return table


def _steps(info: StudyInfo) -> str:
    """The budget spent in steps and, with a fidelity, what is left of it."""
    text = f"{info.steps_reported} reported (epochs trained, over all trials)"
    fidelity = info.config.fidelity
    if info.config.HasField("fidelity"):
        text += f"; at most {fidelity.max_steps} a trial"
        if fidelity.total_steps:
            text += (
                f"; {info.steps_reserved} granted to running trials; budget {fidelity.total_steps}"
            )
    return text


def _progress(info: StudyInfo) -> Table:
    config = info.config
    budget = config.max_trials or "∞"
    done = sum(v for k, v in info.trial_counts.items() if k != "PENDING")
    table = Table(title=f"study {info.name}", show_header=False)
    table.add_row("state", info.state + (" (paused)" if info.paused else ""))
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
        + ", ".join(f"{k} {v}" for k, v in sorted(info.trial_counts.items()) if v)
        + (f"; {info.queued_trials} queued" if info.queued_trials else ""),
    )
    if info.steps_reported or config.HasField("fidelity"):
        table.add_row("steps", _steps(info))
    table.add_row("parameters", ", ".join(p.name for p in config.parameters))
    if info.best_trial is not None:
        table.add_row("best", f"trial {info.best_trial.id}: {info.best_trial.value:.6g}")
    return table


def _parameter_names(info: StudyInfo) -> list[str]:
    return [p.name for p in info.config.parameters]


def _show(study: Study, width: int) -> Group:
    info = study.info()
    names = _parameter_names(info)
    if info.config.objectives:
        front = study.pareto_front()
        trials = front.trials
        header, rows = trial_rows(trials, names)
        reference = ", ".join(f"{r:.6g}" for r in front.reference_point)
        title = (
            f"Pareto front: {len(trials)} trials, hypervolume {front.hypervolume:.6g} "
            f"(reference {reference})"
        )
        return Group(_progress(info), _table(title, header, rows, width))
    best = study.best_trials(SHOWN_BEST)
    header, rows = trial_rows(best, names)
    parts: list[Any] = [_progress(info)]
    recommended = study.recommended()
    if recommended is not None:
        parts.append(_recommendation(recommended))
    return Group(*parts, _table(f"best {len(best)} trials by observed value", header, rows, width))


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
        # The server's message starts with the field's path already.
        raise StudyFileError(f"{where}{error.message}") from None
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
        _table(
            "studies",
            ["name", "state", "algorithm", "completed", "budget", "best"],
            rows,
            console.width,
        )
    )


def _trials(study: Study, args: argparse.Namespace, console: Console) -> None:
    states = [pb.TrialState.Value(s) for s in args.state]
    trials = list(study.trials(states))
    names = _parameter_names(study.info())
    if args.format == "csv":
        write_csv(trials, names, sys.stdout)
    elif args.format == "json":
        print(
            json.dumps(
                [
                    {
                        "trial": t.id,
                        "state": t.state,
                        "value": t.value,
                        "worker": t.worker_id,
                        "params": {n: t.params[n] for n in names if n in t.params},
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
        header, rows = trial_rows(trials, names)
        console.print(_table(f"trials of {study.name}", header, rows, console.width))


def _import(study: Study, source: Path, console: Console) -> None:
    completed = read_completed(source, study.info().config)
    if not completed:
        raise StudyFileError(f"{source}: no COMPLETED trial to import")
    imported = study.import_trials(completed)
    console.print(f"imported {len(imported)} completed trials into {study.name}")


def _watch(study: Study, interval: float, console: Console) -> None:
    with Live(_show(study, console.width), console=console, refresh_per_second=4) as live:
        while True:
            time.sleep(interval)
            live.update(_show(study, console.width))
            if study.info().finished:
                return


def _confirmed(name: str) -> bool:
    """Whether the user typed the study's name back; never without a terminal to ask on."""
    if not sys.stdin.isatty():
        sys.exit(f"hyperdial study: deleting {name} loses its trials; pass --yes to confirm")
    answer = input(f"delete study {name} and all its trials? type its name to confirm: ")
    return answer.strip() == name


def _parser() -> argparse.ArgumentParser:
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
    for name in ("show", "watch", "delete", "pause", "resume"):
        commands.add_parser(name).add_argument("name")
    commands.choices["watch"].add_argument("--interval", type=float, default=2.0)
    commands.choices["delete"].add_argument(
        "--yes", action="store_true", help="delete without asking (for scripts)"
    )
    trials = commands.add_parser("trials", help="a study's trials")
    trials.add_argument("name")
    trials.add_argument("--format", choices=["table", "csv", "json"], default="table")
    trials.add_argument(
        "--state",
        action="append",
        default=[],
        choices=[n for n in pb.TrialState.keys() if n != "TRIAL_STATE_UNSPECIFIED"],  # noqa: SIM118
    )
    stop = commands.add_parser("stop", help="ask a running trial to stop at its next report")
    stop.add_argument("name")
    stop.add_argument("trial", type=int)
    enqueue = commands.add_parser("enqueue", help="queue configurations to try next")
    enqueue.add_argument("name")
    enqueue.add_argument(
        "--params", action="append", default=[], help="one configuration as a JSON object"
    )
    enqueue.add_argument("--file", type=Path, help="a YAML/JSON list of configurations")
    enqueue.add_argument(
        "--skip-if-queued", action="store_true", help="leave out configurations already queued"
    )
    update = commands.add_parser("update", help="change a study's trial or step budget")
    update.add_argument("name")
    update.add_argument("--max-trials", type=int, help="the new trial budget; 0: none")
    update.add_argument("--total-steps", type=int, help="the new step budget; 0: none")
    export = commands.add_parser("export", help="a study's trials as CSV")
    export.add_argument("name")
    export.add_argument("-o", "--output", type=Path, required=True)
    imports = commands.add_parser("import", help="completed trials from an exported CSV")
    imports.add_argument("name")
    imports.add_argument("--from", dest="source", type=Path, required=True)
    return parser


def _run(client: Client, args: argparse.Namespace, console: Console) -> None:
    """Runs one parsed subcommand."""
    if args.command == "create":
        _create(client, args, console)
    elif args.command == "list":
        _list(client, console)
    elif args.command == "show":
        console.print(_show(client.study(args.name), console.width))
    elif args.command == "trials":
        _trials(client.study(args.name), args, console)
    elif args.command == "watch":
        _watch(client.study(args.name), args.interval, console)
    elif args.command == "import":
        _import(client.study(args.name), args.source, console)
    elif args.command == "stop":
        client.study(args.name).stop_trial(args.trial)
        console.print(f"trial {args.trial} of {args.name} stops at its next report")
    elif args.command in ("pause", "resume"):
        study = client.study(args.name)
        info = study.pause() if args.command == "pause" else study.resume()
        console.print(f"study {info.name}: {'paused' if info.paused else 'running'}")
    elif args.command == "enqueue":
        configurations = read_configurations(args.params, args.file)
        queued = client.study(args.name).enqueue(
            configurations, skip_if_queued=args.skip_if_queued
        )
        console.print(f"queued {queued} of {len(configurations)} configurations in {args.name}")
    elif args.command == "update":
        info = client.update_study(
            args.name, max_trials=args.max_trials, total_steps=args.total_steps
        )
        steps = (
            f", {info.config.fidelity.total_steps or '∞'} steps"
            if info.config.HasField("fidelity")
            else ""
        )
        console.print(
            f"study {info.name}: budget {info.config.max_trials or '∞'}{steps}, {info.state}"
        )
    elif args.command == "export":
        study = client.study(args.name)
        with args.output.open("w", newline="") as out:
            write_csv(list(study.trials()), _parameter_names(study.info()), out)
        console.print(f"wrote {args.output}")
    elif args.yes or _confirmed(args.name):
        client.delete_study(args.name)
        console.print(f"deleted study {args.name}")
    else:
        sys.exit("hyperdial study: not deleted")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `hyperdial study`."""
    args = _parser().parse_args(argv)
    console = Console()
    try:
        with Client(args.server) as client:
            _run(client, args, console)
    except (StudyFileError, HyperdialError) as error:
        sys.exit(f"hyperdial study: {error}")
    except KeyboardInterrupt:
        sys.exit(130)

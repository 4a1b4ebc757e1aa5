"""Studies and trials through their whole life, against a real server and SQLite file."""

import signal
import threading
import time

import grpc
import pytest

from hyperdial.client import (
    Client,
    InvalidArgumentError,
    categorical,
    float_param,
    int_param,
)
from hyperdial.v1 import hyperdial_pb2 as pb

X = [float_param("x", -5, 5)]


def test_a_worker_gets_its_unfinished_trial_back(client) -> None:
    study = client.create_study("resume", X)
    first = study.next_trial("w1")
    again = study.next_trial("w1")
    assert again.id == first.id
    assert again.params == first.params
    fresh = study.suggest(1, worker_id="w1", force_new=True)[0]
    assert fresh.id != first.id
    other = study.next_trial("w2")
    assert other.id not in (first.id, fresh.id)


def test_budget_is_respected_and_finishing_is_explicit(client) -> None:
    study = client.create_study("budget", X, max_trials=5)
    trials = study.suggest(3, worker_id="a") + study.suggest(3, worker_id="b")
    assert [t.id for t in trials] == [1, 2, 3, 4, 5]
    assert study.finished
    assert study.suggest(1, worker_id="c") == []
    for trial in trials:
        trial.complete(float(trial.params["x"]) ** 2)
    info = study.info()
    assert info.finished
    assert info.trial_counts["COMPLETED"] == 5


def test_grid_hands_out_each_point_once_across_concurrent_workers(client) -> None:
    space = [
        int_param("a", 1, 5),
        categorical("b", ["x", "y", "z"]),
        float_param("c", 0, 1, grid_points=2),
    ]
    study = client.create_study("grid", space, algorithm="grid")
    seen: list[tuple] = []
    lock = threading.Lock()

    def work(worker: str) -> None:
        handle = client.study("grid")
        while (trial := handle.next_trial(worker)) is not None:
            with lock:
                seen.append((trial.params["a"], trial.params["b"], trial.params["c"]))
            trial.complete(float(trial.params["a"]))

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 5 * 3 * 2
    assert len(set(seen)) == len(seen)
    assert study.info().finished


def test_trials_page_through_a_large_study(client) -> None:
    study = client.create_study("pages", X)
    for _ in range(25):
        for trial in study.suggest(10, worker_id="w", force_new=True):
            if trial.id % 3:
                trial.complete(float(trial.id))
            else:
                trial.fail("odd")
    response = client.stub.ListTrials(pb.ListTrialsRequest(study="pages", page_size=100))
    assert len(response.trials) == 100
    assert response.next_page_token
    ids = [t.id for t in study.trials(page_size=64)]
    assert ids == list(range(1, 251))
    failed = [t.id for t in study.trials(states=[pb.FAILED], page_size=7)]
    assert failed == list(range(3, 251, 3))


def test_a_study_says_when_its_trials_last_moved(client) -> None:
    study = client.create_study("moving", X)
    created = study.info()
    assert created.updated == created.created  # no trial yet
    trial = study.next_trial("w")
    handed_out = study.info().updated
    assert handed_out >= created.created
    time.sleep(0.01)
    trial.complete(0.5)
    finished = study.info().updated
    assert finished > handed_out
    assert trial.id == 1
    listed = next(s for s in client.list_studies() if s.name == "moving")
    assert listed.updated == finished


def test_a_study_counts_the_steps_its_trials_reported(client) -> None:
    study = client.create_study("steps", X)
    first, second = study.suggest(2, worker_id="w")
    for step in range(3):
        first.report(step, 1.0 - step / 10)
    second.report(0, 0.9)
    second.report(1, 0.8)
    second.report(1, 0.7)  # a step reported again counts once
    assert study.info().steps_reported == 5
    first.complete(0.7)
    second.prune()
    assert study.info().steps_reported == 5


def test_a_page_starts_where_asked_and_carries_every_curve(client) -> None:
    study = client.create_study("start", X)
    for trial in study.suggest(6, worker_id="w", force_new=True):
        for step in range(trial.id):  # trial n reports n values
            trial.report(step, trial.id + step / 10)
        if trial.id != 4:
            trial.complete(float(trial.id))

    def page(**fields) -> pb.ListTrialsResponse:
        request = pb.ListTrialsRequest(study="start", include_measurements=True, **fields)
        return client.stub.ListTrials(request)

    first = page(start_id=3, page_size=2)
    assert [t.id for t in first.trials] == [3, 4]
    assert [[m.step for m in t.measurements] for t in first.trials] == [[0, 1, 2], [0, 1, 2, 3]]
    assert first.trials[1].measurements[3].value == 4.3
    rest = page(start_id=3, page_size=2, page_token=first.next_page_token)
    assert [t.id for t in rest.trials] == [5, 6]
    assert [len(t.measurements) for t in rest.trials] == [5, 6]
    assert not rest.next_page_token
    assert [t.id for t in page(start_id=0).trials] == [1, 2, 3, 4, 5, 6]
    assert page(start_id=99).trials == []
    with pytest.raises(grpc.RpcError) as raised:
        page(start_id=-1)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "start_id" in raised.value.details()


@pytest.mark.parametrize(
    ("goal", "expected"), [("minimize", [1.0, 2.0, 4.0]), ("maximize", [9.0, 7.0, 4.0])]
)
def test_best_trials_follow_the_goal(client, goal, expected) -> None:
    study = client.create_study(f"best-{goal}", X, goal=goal)
    for value in (4.0, 9.0, 1.0, 7.0, 2.0):
        study.next_trial("w").complete(value)
    study.next_trial("w").fail("crashed")
    assert [t.value for t in study.best_trials(3)] == expected
    assert study.info().best_trial.value == expected[0]


def test_progress_is_recorded_and_returned_with_best_trials(client) -> None:
    study = client.create_study("curves", X)
    trial = study.next_trial("w")
    for epoch, loss in enumerate([0.9, 0.5, 0.4]):
        assert trial.report(epoch, loss) is False
    trial.report(2, 0.35)  # a repeated step overwrites
    trial.complete(0.35)
    (best,) = study.best_trials(1)
    assert best.measurements == [(0, 0.9), (1, 0.5), (2, 0.35)]


def test_observe_can_hand_out_the_next_trial(client) -> None:
    study = client.study(client.create_study("prefetch", X, max_trials=4).name, prefetch=True)
    ids = []
    while (trial := study.next_trial("w")) is not None:
        ids.append(trial.id)
        trial.complete(1.0)
    assert ids == [1, 2, 3, 4]
    assert study.info().trial_counts == {"COMPLETED": 4}


def test_the_context_manager_fails_the_trial_on_error(client) -> None:
    study = client.create_study("ctx", X)
    with pytest.raises(RuntimeError), study.next_trial("w"):
        raise RuntimeError("CUDA out of memory")
    with study.next_trial("w") as trial:
        pass
    states = {t.id: (t.state, t.reason) for t in study.trials()}
    assert states[1] == ("FAILED", "RuntimeError: CUDA out of memory")
    assert states[trial.id] == ("FAILED", "the worker left the trial without an outcome")


def test_delete_removes_the_study_and_frees_the_name(client) -> None:
    study = client.create_study("gone", X)
    study.next_trial("w").complete(1.0)
    client.delete_study("gone")
    assert [s.name for s in client.list_studies()] == []
    again = client.create_study("gone", [float_param("y", 0, 1)])
    assert again.next_trial("w").id == 1


def test_studies_page(client) -> None:
    for i in range(7):
        client.create_study(f"s{i}", X)
    assert [s.name for s in client.list_studies(page_size=3)] == [f"s{i}" for i in range(7)]


def test_the_client_retries_until_the_server_is_back(database_url, server_process) -> None:
    first = server_process(database_url)
    with Client(first.address, timeout=5, retry_seconds=20) as client:
        study = client.create_study("retry", X)
        trial = study.next_trial("w")
        first.stop(signal.SIGKILL)
        restarted: list = []
        timer = threading.Timer(
            1.0, lambda: restarted.append(server_process(database_url, port=first.port))
        )
        timer.start()
        trial.complete(3.0)  # retried with backoff while the server is down
        timer.join()
        assert study.best_trials(1)[0].value == 3.0


def test_times_and_leases_are_reported(client) -> None:
    study = client.create_study("times", X, lease_seconds=120)
    before = time.time()
    response = client.stub.Suggest(pb.SuggestRequest(study="times", worker_id="w"))
    (trial,) = response.trials
    created = trial.create_time.ToDatetime().timestamp()
    assert before - 1 <= created <= time.time() + 1
    lease = trial.lease_expire_time.ToDatetime().timestamp()
    assert lease - created == pytest.approx(120, abs=1)
    assert not trial.HasField("finish_time")
    study.next_trial("w").complete(1.0)
    (done,) = study.trials()
    listed = client.stub.ListTrials(pb.ListTrialsRequest(study="times")).trials[0]
    assert listed.finish_time.ToDatetime().timestamp() >= created
    assert not listed.HasField("lease_expire_time")
    assert done.state == "COMPLETED"


@pytest.mark.parametrize("stream", [False, True])
def test_heartbeats_keep_a_lease_alive_and_report_lost_trials(client, stream) -> None:
    client.create_study("beats", X, lease_seconds=1)
    study = client.study("beats", stream=stream)
    kept, dropped = study.suggest(2, worker_id="w")
    for _ in range(3):
        time.sleep(0.5)
        assert kept.heartbeat()
    assert study.next_trial("other") is not None  # expires `dropped`, not `kept`
    assert not dropped.heartbeat()
    kept.complete(1.0)
    assert not kept.heartbeat()  # finished: nothing left to renew
    states = {t.id: t.state for t in study.trials()}
    assert states[kept.id] == "COMPLETED"
    assert states[dropped.id] == "STALE"
    study.close()


def test_the_median_rule_stops_a_bad_trial_which_ends_pruned(client) -> None:
    from hyperdial.client import median_stopping

    study = client.create_study("median", X, stopping=median_stopping(min_trials=3))
    for _ in range(3):
        trial = study.next_trial("w")
        for step, loss in enumerate([1.0, 0.6, 0.4]):
            assert trial.report(step, loss) is False
        trial.complete(0.4)
    good = study.next_trial("w")
    assert good.report(0, 0.9) is False
    good.complete(0.9)
    bad = study.next_trial("w")
    assert bad.report(0, 1.5) is True  # worse than the median at step 0 (1.0)
    bad.prune()
    states = [t.state for t in study.trials()]
    assert states == ["COMPLETED"] * 4 + ["PRUNED"]
    assert study.info().config.stopping.median.min_trials == 3


def test_hyperband_stops_a_bad_trial_only_at_its_own_brackets_rungs(client) -> None:
    from hyperdial.client import hyperband
    from hyperdial.server.stopping.rules import hyperband_bracket

    study = client.create_study("hyperband", X, stopping=hyperband(max_step=9))
    assert study.info().config.stopping.successive_halving.brackets == 3  # rungs 1, 3, 9
    answers: dict[int, list[bool]] = {0: [], 1: [], 2: []}
    good_in_first = 0
    while min(len(a) for a in answers.values()) < 2:
        trial = study.next_trial("w")
        bracket = hyperband_bracket(trial.id, 3, 3)
        if bracket == 0 and good_in_first < 3:  # the first bracket's peers at step 1
            assert trial.report(1, 0.1) is False  # too few peers yet to judge
            trial.complete(0.1)
            good_in_first += 1
            continue
        stop = trial.report(1, 5.0)
        answers[bracket].append(stop)
        if stop:
            trial.prune()
        else:
            trial.complete(5.0)
    # The same bad value at step 1: the first bracket stops it, later ones judge later.
    assert all(answers[0])
    assert not any(answers[1] + answers[2])


def test_hyperband_counts_the_brackets_that_fit_below_max_step(tmp_path) -> None:
    from hyperdial.client import hyperband
    from hyperdial.client.tools.study_file import load_study_file

    assert hyperband(max_step=8).successive_halving.brackets == 2  # rungs from 1, 3
    assert hyperband(max_step=9).successive_halving.brackets == 3  # and from 9
    halving = hyperband(max_step=100, min_step=10, reduction_factor=2).successive_halving
    assert halving.brackets == 4
    with pytest.raises(ValueError, match="min_step"):
        hyperband(max_step=2, min_step=3)
    path = tmp_path / "study.yaml"
    path.write_text(
        "name: filed\nobjective: {metric: val_loss, goal: minimize}\n"
        "parameters: [{name: x, type: float, low: 0, high: 1}]\n"
        "stopping: {hyperband: {max_step: 27}}\n"
    )
    stopping = load_study_file(path).create_kwargs["stopping"]
    assert stopping.successive_halving.brackets == 4


def test_bad_stopping_rules_name_the_field(client) -> None:
    from hyperdial.client import successive_halving

    with pytest.raises(InvalidArgumentError) as caught:
        client.create_study("halving", X, stopping=successive_halving(reduction_factor=1))
    assert caught.value.field == "config.stopping.successive_halving.reduction_factor"

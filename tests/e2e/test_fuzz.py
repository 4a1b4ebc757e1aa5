"""Hypothesis-generated requests for every RPC: only client-error codes, and a consistent store.

Strings include empty, huge, control and non-ASCII text; numbers include NaN,
±inf, huge and negative values; enums include numbers no enum defines. The
server must answer each with OK or a client-error code and a message, never
INTERNAL or UNKNOWN, and stay up; afterwards the database must satisfy the
invariants the service promises.
"""

import math

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperdial.server.domain import TrialState
from hyperdial.server.store.sql import SqlStore
from hyperdial.v1 import hyperdial_pb2 as pb
from hyperdial.v1 import hyperdial_pb2_grpc as pb_grpc

CLIENT_ERRORS = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
KNOWN_STUDIES = ["fuzz-random", "fuzz-grid"]

text = st.one_of(
    st.sampled_from(
        ["", " ", "w", "worker-1", "\x00", "é✓", "a" * 129, "../../etc", *KNOWN_STUDIES]
    ),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1000, max_size=5000),
)
doubles = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, math.nan, math.inf, -math.inf]),
)
int64 = st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-3, 50))
int32 = st.one_of(st.integers(-(2**31), 2**31 - 1), st.integers(-2, 12), st.just(10**6))
uint64 = st.integers(0, 2**64 - 1)
enums = st.integers(-3, 12)


@st.composite
def values(draw) -> pb.Value:
    kind = draw(st.sampled_from(["double_value", "int_value", "string_value", "bool_value", None]))
    if kind is None:
        return pb.Value()
    make = {
        "double_value": doubles,
        "int_value": int64,
        "string_value": text,
        "bool_value": st.booleans(),
    }
    return pb.Value(**{kind: draw(make[kind])})


@st.composite
def parameters(draw) -> pb.Parameter:
    message = pb.Parameter(name=draw(st.sampled_from(["x", "n", "c", "", "x"]) | text))
    domain = draw(st.sampled_from(["float_range", "int_range", "categorical", None]))
    if domain == "float_range":
        message.float_range.CopyFrom(
            pb.FloatRange(low=draw(doubles), high=draw(doubles), log=draw(st.booleans()))
        )
    elif domain == "int_range":
        message.int_range.CopyFrom(
            pb.IntRange(low=draw(int64), high=draw(int64), log=draw(st.booleans()))
        )
    elif domain == "categorical":
        message.categorical.choices.extend(draw(st.lists(text, max_size=4)))
    if draw(st.booleans()):
        condition = pb.Condition(parent=draw(text), values=draw(st.lists(values(), max_size=2)))
        if draw(st.booleans()):
            condition.min = draw(doubles)
        message.condition.CopyFrom(condition)
    message.grid_values.extend(draw(st.lists(values(), max_size=3)))
    message.grid_points = draw(st.integers(0, 2**32 - 1))
    return message


@st.composite
def configs(draw) -> pb.StudyConfig:
    return pb.StudyConfig(
        parameters=draw(st.lists(parameters(), max_size=4)),
        objective=pb.Objective(metric=draw(text), goal=draw(enums)),
        algorithm=pb.Algorithm(
            name=draw(st.sampled_from(["", "random", "grid", "bayes"]) | text),
            options=draw(
                st.dictionaries(
                    st.sampled_from(["sampler", "grid_points", "shuffle", "x"]),
                    values(),
                    max_size=2,
                )
            ),
        ),
        max_trials=draw(int64),
        seed=draw(uint64),
        lease_seconds=draw(doubles),
    )


study_names = st.sampled_from(KNOWN_STUDIES) | text
suggests = st.builds(
    pb.SuggestRequest, study=study_names, worker_id=text, count=int32, force_new=st.booleans()
)
reports = st.builds(
    pb.ReportProgressRequest,
    study=study_names,
    trial_id=int64,
    worker_id=text,
    step=int64,
    value=doubles,
)


@st.composite
def observes(draw) -> pb.ObserveRequest:
    request = pb.ObserveRequest(
        study=draw(study_names),
        trial_id=draw(int64),
        worker_id=draw(st.sampled_from(["w", "worker-1"]) | text),
        request_id=draw(text),
        next_count=draw(int32),
    )
    outcome = draw(st.sampled_from(["value", "failed", "infeasible", "pruned", None]))
    if outcome == "value":
        request.value = draw(doubles)
    elif outcome is not None:
        getattr(request, outcome).CopyFrom(pb.Failure(reason=draw(text)))
    return request


requests = st.one_of(
    st.builds(pb.CreateStudyRequest, name=study_names, config=configs()).map(
        lambda r: ("CreateStudy", r)
    ),
    st.builds(pb.GetStudyRequest, name=study_names).map(lambda r: ("GetStudy", r)),
    st.builds(pb.ListStudiesRequest, page_size=int32, page_token=text).map(
        lambda r: ("ListStudies", r)
    ),
    st.builds(pb.DeleteStudyRequest, name=text.filter(lambda n: n not in KNOWN_STUDIES)).map(
        lambda r: ("DeleteStudy", r)
    ),
    st.builds(
        pb.UpdateStudyRequest,
        name=study_names,
        max_trials=st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
    ).map(lambda r: ("UpdateStudy", r)),
    st.builds(pb.StopTrialRequest, study=study_names, trial_id=int64).map(
        lambda r: ("StopTrial", r)
    ),
    st.builds(pb.PauseStudyRequest, name=study_names).map(lambda r: ("PauseStudy", r)),
    st.builds(pb.ResumeStudyRequest, name=study_names).map(lambda r: ("ResumeStudy", r)),
    st.builds(
        pb.EnqueueTrialsRequest,
        study=study_names,
        trials=st.lists(
            st.builds(
                pb.QueuedTrial,
                parameters=st.dictionaries(st.sampled_from(["x", "y", "c"]) | text, values()),
            ),
            max_size=3,
        ),
        skip_if_queued=st.booleans(),
    ).map(lambda r: ("EnqueueTrials", r)),
    suggests.map(lambda r: ("Suggest", r)),
    reports.map(lambda r: ("ReportProgress", r)),
    observes().map(lambda r: ("Observe", r)),
    st.builds(
        pb.ListTrialsRequest,
        study=study_names,
        states=st.lists(enums, max_size=3),
        page_size=int32,
        page_token=text,
        include_measurements=st.booleans(),
    ).map(lambda r: ("ListTrials", r)),
    st.builds(pb.GetBestTrialsRequest, study=study_names, count=int32).map(
        lambda r: ("GetBestTrials", r)
    ),
)
work_requests = st.lists(
    st.one_of(
        suggests.map(lambda r: pb.WorkRequest(suggest=r)),
        reports.map(lambda r: pb.WorkRequest(report_progress=r)),
        observes().map(lambda r: pb.WorkRequest(observe=r)),
        st.builds(pb.WorkRequest),
    ),
    max_size=5,
)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    from hyperdial.server.testing import serve

    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    with serve(f"sqlite:///{path}") as server, grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.HyperdialServiceStub(channel)
        x = pb.Parameter(name="x", float_range=pb.FloatRange(low=-1, high=1))
        n = pb.Parameter(name="n", int_range=pb.IntRange(low=1, high=4))
        objective = pb.Objective(metric="loss", goal=pb.MINIMIZE)
        stub.CreateStudy(
            pb.CreateStudyRequest(
                name="fuzz-random",
                config=pb.StudyConfig(parameters=[x, n], objective=objective, max_trials=40),
            )
        )
        grid = pb.StudyConfig(
            parameters=[n], objective=objective, algorithm=pb.Algorithm(name="grid")
        )
        stub.CreateStudy(pb.CreateStudyRequest(name="fuzz-grid", config=grid))
        for study in KNOWN_STUDIES:  # give the fuzzer real trials to hit
            stub.Suggest(pb.SuggestRequest(study=study, worker_id="w", count=3))
        yield stub, channel, path


def _check(error: grpc.RpcError) -> None:
    assert error.code() in CLIENT_ERRORS, (error.code(), error.details())
    assert error.details(), "every error carries a message"


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(call=requests)
def test_unary_rpcs_answer_only_client_errors(fuzz_server, call) -> None:
    stub, _, _ = fuzz_server
    method, request = call
    try:
        getattr(stub, method)(request, timeout=10)
    except grpc.RpcError as error:
        _check(error)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=work_requests)
def test_work_stream_answers_every_request(fuzz_server, batch) -> None:
    stub, _, _ = fuzz_server
    for sequence, request in enumerate(batch):
        request.sequence = sequence
    answers = list(stub.Work(iter(batch), timeout=10))
    assert [a.sequence for a in answers] == list(range(len(batch)))
    for answer in answers:
        if answer.HasField("error"):
            code = next(c for c in grpc.StatusCode if c.value[0] == answer.error.code)
            assert code in CLIENT_ERRORS, answer.error
            assert answer.error.message


UNARY_METHODS = [
    "CreateStudy",
    "GetStudy",
    "ListStudies",
    "DeleteStudy",
    "UpdateStudy",
    "StopTrial",
    "PauseStudy",
    "ResumeStudy",
    "EnqueueTrials",
    "Suggest",
    "ReportProgress",
    "Observe",
    "ListTrials",
    "GetBestTrials",
]
raw_bytes = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"\x0a\x02\xff\xfe", b"\xff\xff\xff", b"\x0a\x80\x80\x80\x80\x10"]),
)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(UNARY_METHODS), data=raw_bytes, stream=st.lists(raw_bytes, max_size=3)
)
def test_arbitrary_bytes_are_client_errors(fuzz_server, method, data, stream) -> None:
    """Bytes that are no valid message (bad UTF-8, corrupt wire format) are INVALID_ARGUMENT."""
    _, channel, _ = fuzz_server
    call = channel.unary_unary(f"/hyperdial.v1.HyperdialService/{method}")
    try:
        call(data, timeout=10)
    except grpc.RpcError as error:
        _check(error)
    work = channel.stream_stream("/hyperdial.v1.HyperdialService/Work")
    try:
        for answer in work(iter(stream), timeout=10):
            parsed = pb.WorkResponse.FromString(answer)
            if parsed.HasField("error"):
                code = next(c for c in grpc.StatusCode if c.value[0] == parsed.error.code)
                assert code in CLIENT_ERRORS, parsed.error
    except grpc.RpcError as error:
        _check(error)


def test_after_fuzzing_the_server_is_up_and_the_store_consistent(fuzz_server) -> None:
    _, channel, path = fuzz_server
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    store = SqlStore(f"sqlite:///{path}", create=True)
    try:

        def audit(txn):
            studies = txn.list_studies(0, 10_000)
            for study in studies:
                trials = txn.list_trials(study, [], 0, 1_000_000)
                assert [t.number for t in trials] == list(range(1, study.trial_count + 1))
                live = sum(t.state is not TrialState.STALE for t in trials)
                assert study.budget_used == live
                if study.config.max_trials:
                    assert study.budget_used <= study.config.max_trials
                params = study.config.space.by_name()
                for trial in trials:
                    completed = trial.state is TrialState.COMPLETED
                    assert (trial.value is not None) == completed
                    if completed:
                        assert math.isfinite(trial.value)
                    assert (trial.lease_expires_at is not None) == (
                        trial.state is TrialState.PENDING
                    )
                    for name, value in trial.params.items():
                        assert params[name].contains(value), (study.name, name, value)
            return len(studies)

        assert store.read(audit) >= len(KNOWN_STUDIES)
    finally:
        store.close()

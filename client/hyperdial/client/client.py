"""The connection to a hyperdial server: channel, deadlines and retries."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TypeVar

import grpc

from hyperdial.client.errors import UnavailableError, from_rpc_error
from hyperdial.client.params import OptionValue, options_to_proto
from hyperdial.client.retry import with_retries
from hyperdial.client.study import Study
from hyperdial.client.views import StudyInfo
from hyperdial.v1 import hyperdial_pb2 as pb
from hyperdial.v1 import hyperdial_pb2_grpc as pb_grpc

Response = TypeVar("Response")

DEFAULT_SERVER = "127.0.0.1:50051"
# Above the server's default --max-message-bytes (16 MiB), which sizes its answers to fit;
# gRPC's own default of 4 MiB would refuse large pages the server sends.
DEFAULT_MAX_RECEIVE_BYTES = 64 * 1024 * 1024
_GOALS = {"minimize": pb.MINIMIZE, "maximize": pb.MAXIMIZE}


def _read(path: str | None) -> bytes | None:
    if path is None:
        return None
    with open(path, "rb") as file:
        return file.read()


class Client:
    """A connection to one server.

    Every call has a deadline (`timeout`). Calls that fail with UNAVAILABLE or
    ABORTED are retried with exponential backoff and jitter for up to
    `retry_seconds` in all: that covers a server restart. Every RPC of the API
    is safe to repeat (Observe carries a request id, Suggest resumes the
    worker's trial), so retries never apply anything twice.

    Args:
        address: HOST:PORT; defaults to $HYPERDIAL_SERVER, then 127.0.0.1:50051.
        timeout: deadline of each attempt, in seconds.
        retry_seconds: how long to keep retrying a call the server cannot take.
        token: bearer token sent with every call; defaults to $HYPERDIAL_TOKEN.
        tls: connect with TLS (implied by any of the files below); without
            `tls_ca_file` the system's root certificates verify the server.
        tls_ca_file: PEM bundle of the CA that signed the server's certificate;
            defaults to $HYPERDIAL_TLS_CA_FILE (so every `hyperdial` command and a
            container's trainer speak TLS without flags).
        tls_cert_file, tls_key_file: this client's certificate and key (mutual TLS);
            default to $HYPERDIAL_TLS_CERT_FILE and $HYPERDIAL_TLS_KEY_FILE.
        max_receive_bytes: the largest answer accepted (keep it above the
            server's --max-message-bytes).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        timeout: float = 30.0,
        retry_seconds: float = 60.0,
        token: str | None = None,
        tls: bool = False,
        tls_ca_file: str | None = None,
        tls_cert_file: str | None = None,
        tls_key_file: str | None = None,
        max_receive_bytes: int = DEFAULT_MAX_RECEIVE_BYTES,
    ) -> None:
        self.address = address or os.environ.get("HYPERDIAL_SERVER", DEFAULT_SERVER)
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        token = token or os.environ.get("HYPERDIAL_TOKEN")
        tls_ca_file = tls_ca_file or os.environ.get("HYPERDIAL_TLS_CA_FILE")
        tls_cert_file = tls_cert_file or os.environ.get("HYPERDIAL_TLS_CERT_FILE")
        tls_key_file = tls_key_file or os.environ.get("HYPERDIAL_TLS_KEY_FILE")
        #: Metadata sent with every call (the bearer token, if any).
        self.metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ()
        )
        # Keepalive pings find a dead connection under a long-lived Work stream.
        options = [
            ("grpc.keepalive_time_ms", 20_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            ("grpc.max_receive_message_length", max_receive_bytes),
        ]
        if tls or tls_ca_file or tls_cert_file or tls_key_file:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(tls_ca_file),
                private_key=_read(tls_key_file),
                certificate_chain=_read(tls_cert_file),
            )
            self._channel = grpc.secure_channel(self.address, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(self.address, options=options)
        self.stub = pb_grpc.HyperdialServiceStub(self._channel)

    def call(
        self,
        method: Callable[..., Response],
        request: object,
        *,
        metadata: Sequence[tuple[str, str]] | None = None,
    ) -> Response:
        """Calls `method` (a stub method) with deadline and retries; raises HyperdialError.

        `metadata` replaces the client's own (its bearer token) for this call.
        """
        sent = self.metadata if metadata is None else tuple(metadata)

        def attempt() -> Response:
            try:
                return method(request, timeout=self.timeout, metadata=sent)
            except grpc.RpcError as error:
                raise from_rpc_error(error) from None

        return with_retries(attempt, self.retry_seconds)

    def create_study(
        self,
        name: str,
        parameters: Sequence[pb.Parameter],
        *,
        goal: str = "minimize",
        metric: str = "objective",
        algorithm: str = "",
        options: Mapping[str, OptionValue] | None = None,
        max_trials: int = 0,
        seed: int = 0,
        lease_seconds: float = 0.0,
        max_reissues: int = 0,
        stopping: pb.StoppingRule | None = None,
        objectives: Sequence[tuple[str, str]] = (),
        constraints: Sequence[pb.OutcomeConstraint] = (),
        max_retries: int = 0,
        fidelity: pb.Fidelity | None = None,
    ) -> Study:
        """Creates the study, or returns the existing one if it has the same config.

        `algorithm` is "random" (the server's default, when empty), "grid" or "bayes".
        One objective is `metric` and `goal`; several are `objectives`, (metric,
        goal) pairs, whose Pareto front the study looks for. `constraints` limit
        reported metrics, e.g. `outcome_constraint("param_count", max=50_000)`.
        `max_retries` hands a FAILED configuration out again up to that many times
        (failures marked `worker_stopped` do not count). `fidelity` budgets steps
        (e.g. epochs): `step_budget(max_steps=30, total_steps=600)`.

        Raises:
            AlreadyExistsError: a study of that name has a different config.
            InvalidArgumentError: the config is invalid; `.field` says where.
        """
        for _, direction in [("", goal), *objectives]:
            if direction not in _GOALS:
                raise ValueError(f"goal must be 'minimize' or 'maximize', got {direction!r}")
        config = pb.StudyConfig(
            parameters=list(parameters),
            objective=None if objectives else pb.Objective(metric=metric, goal=_GOALS[goal]),
            objectives=[pb.Objective(metric=m, goal=_GOALS[g]) for m, g in objectives],
            constraints=list(constraints),
            algorithm=pb.Algorithm(name=algorithm, options=options_to_proto(options or {})),
            max_trials=max_trials,
            seed=seed,
            lease_seconds=lease_seconds,
            max_reissues=max_reissues,
            stopping=stopping,
            max_retries=max_retries,
            fidelity=fidelity,
        )
        request = pb.CreateStudyRequest(name=name, config=config)
        response = self.call(self.stub.CreateStudy, request)
        return Study(self, response.study.name)

    def study(self, name: str, *, prefetch: bool = False, stream: bool = False) -> Study:
        """A handle on an existing study (checked: raises NotFoundError); see `Study`."""
        self.call(self.stub.GetStudy, pb.GetStudyRequest(name=name))
        return Study(self, name, prefetch=prefetch, stream=stream)

    def list_studies(self, page_size: int = 100) -> Iterator[StudyInfo]:
        """Every study, oldest first, fetched a page at a time."""
        token = ""
        while True:
            request = pb.ListStudiesRequest(page_size=page_size, page_token=token)
            page = self.call(self.stub.ListStudies, request)
            for message in page.studies:
                yield Study(self, message.name).describe(message)
            token = page.next_page_token
            if not token:
                return

    def update_study(
        self, name: str, *, max_trials: int | None = None, total_steps: int | None = None
    ) -> StudyInfo:
        """Sets a study's trial budget and/or step budget (0: none; None: unchanged).

        Returns the study as it now is. Raising a spent budget reopens the
        study; lowering one below what is already used (trials handed out;
        steps reported and granted to running trials), or a step budget for a
        study without a fidelity, raises FailedPreconditionError.
        """
        request = pb.UpdateStudyRequest(name=name, max_trials=max_trials, total_steps=total_steps)
        return Study(self, name).describe(self.call(self.stub.UpdateStudy, request))

    def delete_study(self, name: str) -> None:
        """Deletes a study and its trials."""
        self.call(self.stub.DeleteStudy, pb.DeleteStudyRequest(name=name))

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Blocks until the server accepts connections."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise UnavailableError(f"no server at {self.address} after {timeout} s") from None

    def close(self) -> None:
        """Closes the channel."""
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

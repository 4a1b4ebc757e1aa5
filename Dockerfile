# hyperdial image (server and trainers): build the wheel, install it with CPU torch into a
# slim runtime, run as a non-root user, keep the database on the /data volume.
# (Built and checked in CI by the container issue; no container engine runs on the
# development machines, so the install steps mirror the Makefile's.)
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY proto proto
COPY server server
COPY client client
COPY trainers trainers
RUN pip install --no-cache-dir build && python -m build --wheel --outdir /wheels

FROM ${PYTHON_IMAGE} AS runtime
# CPU torch by default, so the image never carries a multi-GB CUDA build. For GPU trainers:
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu124 -t hyperdial:cuda .
# (those wheels bring the CUDA runtime; the host provides the driver).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN useradd --create-home --uid 10001 hyperdial && mkdir /data && chown hyperdial /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir torch==2.13.0 ${TORCH_INDEX:+--index-url "$TORCH_INDEX"} \
    && pip install --no-cache-dir "$(ls /wheels/*.whl)[server,trainers,cli]" \
    && rm -rf /wheels
USER hyperdial
VOLUME /data
EXPOSE 50051 9464 9465
# The database lives on the /data volume: a fresh volume gets a new database. A file removed
# under a running server is still refused at run time (writes UNAVAILABLE, NOT_SERVING).
ENV HYPERDIAL_ADDRESS=0.0.0.0:50051 \
    HYPERDIAL_DATABASE=sqlite:////data/hyperdial.db \
    HYPERDIAL_CREATE_DATABASE=true
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD python -c "import grpc, sys; \
from grpc_health.v1 import health_pb2 as h, health_pb2_grpc as g; \
c = grpc.insecure_channel('127.0.0.1:50051'); \
s = g.HealthStub(c).Check(h.HealthCheckRequest(), timeout=2).status; \
sys.exit(0 if s == h.HealthCheckResponse.SERVING else 1)"
ENTRYPOINT ["hyperdial"]
CMD ["server"]

# hyperdial images, one target each (`docker build --target NAME`):
#   server   (default) `hyperdial server`: the server extra only, a HEALTHCHECK, metrics on 9464
#   trainer  `hyperdial trainer` / `retrain` / `study`: CPU torch, no HEALTHCHECK (no gRPC served)
# A GPU trainer takes PyPI's torch wheel, a CUDA build (the host provides the driver):
#   docker build --target trainer --build-arg TORCH_SOURCE=pypi -t hyperdial-trainer:cuda .
# `make container-test` builds and runs these with podman on a base made from Debian's
# packages (BASE) and torch from a local wheel folder (TORCH_SOURCE="--find-links …").
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY proto proto
COPY server server
COPY client client
COPY trainers trainers
RUN pip install --no-cache-dir "build==1.2.2.post1" && python -m build --wheel --outdir /wheels

FROM ${BASE} AS runtime
# Where torch comes from: pip arguments, by default PyTorch's CPU index, so an image never
# carries a multi-GB CUDA build by accident; "pypi" takes PyPI's wheel (CUDA on Linux x86).
ARG TORCH_SOURCE="--index-url https://download.pytorch.org/whl/cpu"
ARG TORCH_VERSION=2.13.0
# uid 10001 owns /data: a bind-mounted host folder needs `chown 10001` (or podman's `:U`).
RUN useradd --create-home --uid 10001 hyperdial && mkdir /data && chown hyperdial /data
COPY --from=build /wheels /wheels
RUN if [ -z "$TORCH_SOURCE" ]; then \
      echo "TORCH_SOURCE is empty: name an index (or pypi for CUDA); see the Dockerfile" >&2; \
      exit 1; \
    elif [ "$TORCH_SOURCE" = pypi ]; then \
      pip install --no-cache-dir "torch==${TORCH_VERSION}"; \
    else \
      pip install --no-cache-dir $TORCH_SOURCE "torch==${TORCH_VERSION}"; \
    fi
ENTRYPOINT ["hyperdial"]

# The client side: trainers, the study command line and the web UI (`hyperdial ui`).
FROM runtime AS trainer
RUN pip install --no-cache-dir "$(ls /wheels/*.whl)[trainers,cli,ui]" && rm -rf /wheels
USER hyperdial
ENV HYPERDIAL_SERVER=server:50051
EXPOSE 9465 8080
CMD ["trainer", "--help"]

FROM runtime AS server
RUN pip install --no-cache-dir "$(ls /wheels/*.whl)[server]" && rm -rf /wheels
USER hyperdial
VOLUME /data
# The database lives on the /data volume: a fresh volume gets a new database. Metrics (and
# /healthz, which the HEALTHCHECK asks when TLS is on) listen on 9464.
ENV HYPERDIAL_ADDRESS=0.0.0.0:50051 \
    HYPERDIAL_DATABASE=sqlite:////data/hyperdial.db \
    HYPERDIAL_CREATE_DATABASE=true \
    HYPERDIAL_METRICS_PORT=9464 \
    HYPERDIAL_METRICS_ADDRESS=0.0.0.0
EXPOSE 50051 9464
# Probes where the settings say the server listens, over TLS-free /healthz when metrics are on.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "hyperdial.server.probe"]
CMD ["server"]

#!/usr/bin/env bash
# Builds localhost/hyperdial-base:bookworm from Debian's packages, for machines that reach
# Debian's mirror and a package index but no container registry (`make container-test`).
# Python 3.11 with a virtual environment at /usr/local, so `python` and `pip` are on PATH
# as in python:3.11-slim, and the host's CA bundle, so pip reaches the package index the
# way the host does. Skipped when the image exists.
set -euo pipefail
IMAGE=localhost/hyperdial-base:bookworm
if podman image exists "$IMAGE"; then
  exit 0
fi
tar="$(mktemp --suffix=.tar)"
trap 'rm -f "$tar"' EXIT
mmdebstrap --quiet --variant=minbase \
  --include=python3,python3-venv,ca-certificates,passwd \
  --customize-hook='chroot "$1" python3 -m venv /usr/local' \
  --customize-hook='cp /etc/ssl/certs/ca-certificates.crt "$1"/etc/ssl/certs/ca-certificates.crt' \
  bookworm "$tar"
podman import \
  --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV PIP_DISABLE_PIP_VERSION_CHECK=1' \
  --change 'CMD ["python"]' \
  "$tar" "$IMAGE" >/dev/null

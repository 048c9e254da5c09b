# syntax=docker/dockerfile:1
# pathaudit in a container, built from this checkout (no package index has pathaudit):
#
#   docker build -t pathaudit .
#   docker run --rm -v "$PWD:/work" pathaudit audit estate/
#   docker run --rm pathaudit audit --demo --fail-on never
#
# Two stages on the same pinned base: the first builds pathaudit's wheel and the wheels of its
# dependencies, the second installs them without a compiler or network and runs as a non-root user.
# Nothing secret is baked in: credentials for `collect`/`--live` come at run time (`-e AZURE_*`,
# `-e AZURE_ACCESS_TOKEN` with `--credential token`, or a mounted ~/.azure for `--credential azure-cli`).
# Pin by digest as well (FROM python:...@sha256:...) where builds must be reproducible.

FROM python:3.11.14-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
# what the wheel is built from (pyproject.toml's [tool.hatch.build.targets.wheel]); .dockerignore
# keeps everything else out of the build context
COPY pyproject.toml README.md LICENSE ./
COPY auditor ./auditor
COPY rules ./rules
COPY checks ./checks
COPY fixtures/estates/demo-contoso ./fixtures/estates/demo-contoso
RUN pip wheel --wheel-dir /wheels .


FROM python:3.11.14-slim-bookworm

LABEL org.opencontainers.image.title="pathaudit" \
      org.opencontainers.image.description="Audit Azure estates that host Azure OpenAI behind a gateway" \
      org.opencontainers.image.licenses="MIT"

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# the wheels are mounted for this one step, so they do not stay in a layer of the image
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels pathaudit

RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin pathaudit \
    && mkdir -p /work \
    && chown pathaudit:pathaudit /work

WORKDIR /work
USER pathaudit

ENTRYPOINT ["pathaudit"]
CMD ["--help"]

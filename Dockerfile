# syntax=docker/dockerfile:1
# Two images from one file, on the same slim Python base:
#   docker build --target cpu -t seqserve:cpu .   onnxruntime on the CPU (no torch)
#   docker build --target gpu -t seqserve:gpu .   onnxruntime-gpu with NVIDIA's CUDA 13.0 and cuDNN 9 runtime
#                                                 wheels: the host needs only the driver and the container toolkit
# Python packages come from deploy/requirements/{cpu,gpu}.txt: exact versions with hashes (deploy/lock.sh),
# one onnxruntime version in both. The committed models are baked in at /models; mount a repository there to
# serve others. scripts/image_check.py builds both and runs the cpu image.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    SEQSERVE_HOST=0.0.0.0 \
    SEQSERVE_PORT=8000 \
    SEQSERVE_GRPC_PORT=8001 \
    SEQSERVE_MODEL_DIR=/models
# A home of its own: onnxruntime and Python write caches there.
# /keys: where SEQSERVE_STREAM_KEY_FILE may keep the stream key; a volume mounted there starts owned by the user.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/seqserve --shell /usr/sbin/nologin \
    seqserve \
 && install -d -o seqserve -g seqserve -m 0700 /keys
WORKDIR /srv
EXPOSE 8000 8001
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["python", "-m", "app.healthcheck"]
CMD ["python", "-m", "app"]
USER seqserve

# ---------------------------------------------------------------------------------------------- dependencies
# Built in their own stages so that no requirements file, pip cache or build leftover reaches the images; the
# installers leave with them (pip, setuptools): the service installs nothing at run time.
FROM runtime AS dependencies-cpu
USER root
COPY deploy/requirements/cpu.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --require-hashes --no-deps \
    -r /tmp/requirements.txt \
 && /opt/venv/bin/pip uninstall --yes --no-cache-dir pip setuptools

FROM runtime AS dependencies-gpu
USER root
COPY deploy/requirements/gpu.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --require-hashes --no-deps \
    -r /tmp/requirements.txt \
 && /opt/venv/bin/pip uninstall --yes --no-cache-dir pip setuptools

# ---------------------------------------------------------------------------------------------- cpu
FROM runtime AS cpu
COPY --from=dependencies-cpu /opt/venv /opt/venv
COPY app ./app
COPY models /models
ENV SEQSERVE_DEVICE=cpu
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=
LABEL org.opencontainers.image.title="seqserve (cpu)" \
      org.opencontainers.image.description="Recurrent sequence models on onnxruntime's CPU execution provider" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"

# ---------------------------------------------------------------------------------------------- gpu
FROM runtime AS gpu
COPY --from=dependencies-gpu /opt/venv /opt/venv
COPY app ./app
COPY models /models
# SEQSERVE_WORKERS=1: one process owns the GPU (one CUDA context); its batchers fill the device instead of more
# processes. SEQSERVE_DEVICE=cuda refuses to serve on the CPU when no GPU is usable (auto would fall back).
ENV SEQSERVE_DEVICE=cuda \
    SEQSERVE_WORKERS=1
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=
LABEL org.opencontainers.image.title="seqserve (gpu)" \
      org.opencontainers.image.description="Recurrent sequence models on onnxruntime's CUDA execution provider" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"

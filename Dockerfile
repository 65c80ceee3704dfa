# syntax=docker/dockerfile:1
# Two images from one file:
#   docker build --target cpu -t seqserve:cpu .   slim Python + onnxruntime (no torch)
#   docker build --target gpu -t seqserve:gpu .   CUDA 13 + cuDNN 9 runtime + onnxruntime-gpu
# The committed models are baked in at /models; mount a repository there to serve others.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG CUDA_IMAGE=nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04
# onnxruntime-gpu 1.31 is built for CUDA 13.x and cuDNN 9.x (its session log names exactly these when they are absent).
ARG ONNXRUNTIME_GPU=onnxruntime-gpu==1.31.1

# ---------------------------------------------------------------------------------------------- cpu
FROM ${PYTHON_IMAGE} AS cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SEQSERVE_HOST=0.0.0.0 \
    SEQSERVE_PORT=8000 \
    SEQSERVE_GRPC_PORT=8001 \
    SEQSERVE_MODEL_DIR=/models \
    SEQSERVE_DEVICE=cpu
WORKDIR /srv
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install '.[serve]' \
 && useradd --system --uid 10001 --no-create-home seqserve
COPY models /models
USER seqserve
EXPOSE 8000 8001
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-m", "app.healthcheck"]
CMD ["python", "-m", "app"]

# ---------------------------------------------------------------------------------------------- gpu
FROM ${CUDA_IMAGE} AS gpu
ARG ONNXRUNTIME_GPU
# SEQSERVE_WORKERS=1: one process owns the GPU (one CUDA context); its batchers fill the device instead of more processes.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    SEQSERVE_HOST=0.0.0.0 \
    SEQSERVE_PORT=8000 \
    SEQSERVE_GRPC_PORT=8001 \
    SEQSERVE_MODEL_DIR=/models \
    SEQSERVE_DEVICE=cuda \
    SEQSERVE_WORKERS=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/venv
WORKDIR /srv
COPY pyproject.toml README.md ./
COPY app ./app
# onnxruntime-gpu provides the same `onnxruntime` module: swap it in for the CPU wheel.
RUN pip install '.[serve]' \
 && pip uninstall -y onnxruntime \
 && pip install "${ONNXRUNTIME_GPU}" \
 && useradd --system --uid 10001 --no-create-home seqserve
COPY models /models
USER seqserve
EXPOSE 8000 8001
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["python", "-m", "app.healthcheck"]
CMD ["python", "-m", "app"]

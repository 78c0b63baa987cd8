# The project in one image: the workspace (taps, toolkit, orchestration) and the Meltano
# plugins installed at build time, so a run needs no network but the vendors' APIs.
# Used by Dagster's K8sRunLauncher: each tenant's run is a pod of this image
# (orchestration/k8s/dagster.yaml, docs/deployment.md).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    UV_COMPILE_BYTECODE=1 \
    MELTANO_SEND_ANONYMOUS_USAGE_STATS=false \
    MELTANO_DISABLE_TRACKING=true \
    MELTANO_PROJECT_ROOT=/project \
    MELTANO_ENVIRONMENT=prod \
    TENANTS_FILE=/project/tenants.yml \
    PATH=/project/.venv/bin:$PATH

RUN pip install --no-cache-dir "uv>=0.9" \
 && apt-get update && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /project
COPY . .
# The workspace with its locked dependencies (dagster-k8s included), then every plugin of
# meltano.yml into .meltano/ (extractors from the workspace folders, loaders from PyPI).
RUN uv sync --frozen --no-dev --extra k8s --package singer-orchestration \
 && uv pip install --python .venv/bin/python "meltano[postgres]~=4.4" \
 && meltano install
# dagster-webserver/daemon and the run workers all start from here; secrets come from the
# environment of the pod (Kubernetes secrets named in orchestration/k8s/dagster.yaml).
EXPOSE 3000
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "singer_orchestration.project"]

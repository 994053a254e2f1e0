# syntax=docker/dockerfile:1
#
# One image definition for all five services; the service is chosen at build time:
#
#   docker build --build-arg SERVICE=tickets -t ticketstream-tickets .
#
# SERVICE is one of ingest | tickets | sla | notify | analytics. Every image also carries the
# `ticketstream` CLI (from the shared package), which the compose `topics` service and the
# Helm topic Job use to create the Kafka topics.

# Declared before the first FROM so that the final `FROM service-${SERVICE}` can use it.
ARG SERVICE
ARG PYTHON_IMAGE=python:3.11-slim

# --- build: install the shared library and one service into a virtualenv -------------------
FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
RUN case "${SERVICE}" in \
      ingest|tickets|sla|notify|analytics) ;; \
      *) echo "build arg SERVICE must be one of ingest|tickets|sla|notify|analytics, got '${SERVICE}'" >&2; exit 1 ;; \
    esac
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /src
# Copy what changes least first so dependency layers stay cached across code edits.
COPY constraints.txt ./
COPY shared ./shared
COPY services/${SERVICE} ./services/${SERVICE}
# Non-editable installs: the runtime image gets plain site-packages, no source tree.
RUN --mount=type=cache,target=/root/.cache/pip \
    /opt/venv/bin/pip install -c constraints.txt ./shared ./services/${SERVICE}

# --- runtime: the common part of every service image ---------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
# A fixed numeric uid/gid: Kubernetes can only enforce runAsNonRoot for numeric users, and
# the Helm chart sets the same ids.
RUN groupadd --system --gid 10001 ticketstream \
 && useradd --system --uid 10001 --gid ticketstream --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin ticketstream
COPY --from=build /opt/venv /opt/venv
COPY deploy/docker/healthcheck.py /opt/ticketstream/healthcheck.py
# PYTHONDONTWRITEBYTECODE: the root filesystem is read-only in Kubernetes.
# PYTHONSAFEPATH: `python -m` must not put the working directory on sys.path.
# TICKETSTREAM_HTTP_HOST: inside a container the loopback default would be unreachable.
ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONSAFEPATH=1 \
    SERVICE=${SERVICE} \
    TICKETSTREAM_HTTP_HOST=0.0.0.0
USER 10001:10001
WORKDIR /opt/ticketstream
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/opt/ticketstream/healthcheck.py"]

# --- one small stage per service: its port(s) and entry point ------------------------------
# Only the stage named by SERVICE is built. The port variable is the service's own setting,
# set here to its default so EXPOSE, the healthcheck and the app can never disagree.
FROM runtime AS service-ingest
ENV TICKETSTREAM_INGEST_PORT=8081 \
    TICKETSTREAM_SMTP_PORT=2525
EXPOSE 8081 2525
CMD ["python", "-m", "ticketstream_ingest"]

FROM runtime AS service-tickets
ENV TICKETSTREAM_TICKETS_PORT=8082
EXPOSE 8082
CMD ["python", "-m", "ticketstream_tickets"]

FROM runtime AS service-sla
ENV TICKETSTREAM_SLA_PORT=8083
EXPOSE 8083
CMD ["python", "-m", "ticketstream_sla"]

FROM runtime AS service-notify
ENV TICKETSTREAM_NOTIFY_PORT=8084
EXPOSE 8084
CMD ["python", "-m", "ticketstream_notify"]

FROM runtime AS service-analytics
ENV TICKETSTREAM_ANALYTICS_PORT=8085
EXPOSE 8085
CMD ["python", "-m", "ticketstream_analytics"]

# --- final -----------------------------------------------------------------------------------
FROM service-${SERVICE}
ARG SERVICE
LABEL org.opencontainers.image.title="ticketstream-${SERVICE}" \
      org.opencontainers.image.description="Ticketstream ${SERVICE} service"

#!/usr/bin/env bash
# Runs the whole system on this machine without Docker (`make run`):
# PostgreSQL and NATS (started only if not already running), then auth, tickets, audit, webhooks and gateway.
# The audit log is kept in PostgreSQL too, unless MONGODB_URL is set. Ctrl-C stops what this script started.
#
# Configuration comes from .env when present, otherwise from development-only defaults.
# READY_TIMEOUT (seconds, default 60) bounds the wait for each service; LOG_DIR (default data/logs) holds
# their logs.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
# shellcheck source=deploy/deps.sh
. deploy/deps.sh

log() { printf '[run] %s\n' "$*"; }
die() {
	printf '[run] ERROR: %s\n' "$*" >&2
	exit 1
}

LOG_DIR=${LOG_DIR:-data/logs}
READY_TIMEOUT=${READY_TIMEOUT:-60}

# ---- configuration -------------------------------------------------------------------------------

if [[ -f .env ]]; then
	log "loading .env"
	set -a
	# shellcheck source=/dev/null
	. ./.env
	set +a
fi

if [[ -z ${SECRET_KEY:-} ]]; then
	cat >&2 <<'EOF'

  ######################################################################
  #  WARNING: SECRET_KEY is not set (no .env?), so DEVELOPMENT-ONLY    #
  #  defaults are used: DEBUG=true, a random SECRET_KEY kept in        #
  #  data/dev-secret-key, and the example initial users                #
  #  (admin@company.com / SecureAdminPass123!).                        #
  #  Never expose this instance. Copy .env.example to .env instead.    #
  ######################################################################

EOF
	# A key of this checkout's own, made once and kept: never a published one, which would let anyone
	# sign tokens.
	key_file=data/dev-secret-key
	if [[ ! -s $key_file ]]; then
		mkdir -p data
		(umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$key_file")
		log "generated a random development SECRET_KEY in $key_file"
	fi
	SECRET_KEY=$(<"$key_file")
	export SECRET_KEY
	export DEBUG=true
	: "${INITIAL_ADMIN_EMAIL:=admin@company.com}" "${INITIAL_ADMIN_PASSWORD:=SecureAdminPass123!}"
	: "${INITIAL_STAFF_EMAIL:=staff@company.com}" "${INITIAL_STAFF_PASSWORD:=SecureStaffPass123!}"
	: "${INITIAL_USER_EMAIL:=user@company.com}" "${INITIAL_USER_PASSWORD:=SecureUserPass123!}"
	export INITIAL_ADMIN_EMAIL INITIAL_ADMIN_PASSWORD INITIAL_STAFF_EMAIL INITIAL_STAFF_PASSWORD \
		INITIAL_USER_EMAIL INITIAL_USER_PASSWORD
fi

export ALGORITHM=${ALGORITHM:-HS256}
export ACCESS_TOKEN_EXPIRE_MINUTES=${ACCESS_TOKEN_EXPIRE_MINUTES:-30}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/support_system?sslmode=disable}
export NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
export MONGODB_DATABASE=${MONGODB_DATABASE:-app_logs}
export AUTH_ADDR=${AUTH_ADDR:-:8001} TICKETS_ADDR=${TICKETS_ADDR:-:8002}
export AUDIT_ADDR=${AUDIT_ADDR:-:8003} WEBHOOKS_ADDR=${WEBHOOKS_ADDR:-:8004} GATEWAY_ADDR=${GATEWAY_ADDR:-:8000}
# Development only: lets webhooks registered here call receivers on this machine (localhost and private
# addresses), which production refuses. Set WEBHOOK_ALLOW_PRIVATE=false to try the refusal.
export WEBHOOK_ALLOW_PRIVATE=${WEBHOOK_ALLOW_PRIVATE:-true}

# Each service: name, listen address, readiness path. Started in this order, stopped in reverse.
SERVICES=(auth tickets audit webhooks gateway)
declare -A ADDR=([auth]=$AUTH_ADDR [tickets]=$TICKETS_ADDR [audit]=$AUDIT_ADDR [webhooks]=$WEBHOOKS_ADDR [gateway]=$GATEWAY_ADDR)
declare -A READY_PATH=([auth]=/health/ready [tickets]=/health/ready [audit]=/health/ready [webhooks]=/health/ready [gateway]=/health)
port_of() { echo "${ADDR[$1]##*:}"; }

# ---- process bookkeeping -------------------------------------------------------------------------

started_names=()
started_pids=()

# track NAME PID: remember a process this script started, to stop it on exit.
track() {
	started_names+=("$1")
	started_pids+=("$2")
}

# stop NAME PID: SIGTERM, wait up to 20 s for a clean exit, then SIGKILL.
stop() {
	local name=$1 pid=$2 deadline=$((SECONDS + 20))
	kill -0 "$pid" 2>/dev/null || return 0
	log "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			log "$name did not stop within 20s: killing it"
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local status=$?
	trap '' INT TERM HUP
	local i
	for ((i = ${#started_pids[@]} - 1; i >= 0; i--)); do
		stop "${started_names[i]}" "${started_pids[i]}"
	done
	if ((${#started_pids[@]} > 0)); then
		log "stopped"
	fi
	exit "$status"
}
# A supervisor signals the whole process group, and make passes the signal on: the first one starts
# the cleanup, and any that follow must not cut it short.
trap cleanup EXIT
trap 'trap "" INT TERM HUP; exit 130' INT
trap 'trap "" INT TERM HUP; exit 143' TERM
trap 'trap "" INT TERM HUP; exit 129' HUP

# ---- dependencies --------------------------------------------------------------------------------

# is_local URL PORT: URL points at this machine on PORT (or on no explicit port), i.e. a server we may start.
is_local() { [[ $1 =~ ://([^/@]*@)?(127\.0\.0\.1|localhost)(:$2)?(/|$) ]]; }

if is_local "$DATABASE_URL" 5432; then
	ensure_postgres
	db=${DATABASE_URL##*/}
	create_database "${db%%\?*}"
else
	log "using the PostgreSQL at DATABASE_URL as is"
fi

if is_local "$NATS_URL" 4222; then
	DEPS_NATS_PID=""
	ensure_nats
	if [[ -n $DEPS_NATS_PID ]]; then
		track nats-server "$DEPS_NATS_PID"
	fi
else
	log "using the NATS server at NATS_URL as is"
fi

mkdir -p "$LOG_DIR"

# Traces: a Jaeger of our own when bin/jaeger is built (make test-jaeger, or deploy/deps.sh
# ensure_jaeger_binary) and no OTLP endpoint is set; otherwise nothing is exported.
JAEGER_UI=""
if [[ -z ${OTEL_EXPORTER_OTLP_ENDPOINT:-} && -x bin/jaeger ]]; then
	if port_open 127.0.0.1 16686 || port_open 127.0.0.1 4318; then
		log "port 16686 or 4318 is in use: not starting bin/jaeger (set OTEL_EXPORTER_OTLP_ENDPOINT to use a Jaeger that runs)"
	else
		log "starting bin/jaeger (log in $LOG_DIR/jaeger.log)"
		setsid bin/jaeger --config deploy/jaeger/config.yaml >"$LOG_DIR/jaeger.log" 2>&1 &
		track jaeger $!
		wait_until 30 "Jaeger" port_open 127.0.0.1 4318 || die "Jaeger did not start (log in $LOG_DIR/jaeger.log)"
		export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318
		JAEGER_UI="http://localhost:16686"
	fi
elif [[ -z ${OTEL_EXPORTER_OTLP_ENDPOINT:-} ]]; then
	log "no traces exported: build bin/jaeger (deploy/deps.sh ensure_jaeger_binary) for a Jaeger of our own"
fi

# The audit log: in MongoDB when MONGODB_URL is set, otherwise in the audit schema of the PostgreSQL
# above (no server of its own needed; see services/audit/README.md, "Stores").
if [[ -z ${MONGODB_URL:-} ]]; then
	export AUDIT_DATABASE_URL=${AUDIT_DATABASE_URL:-$DATABASE_URL}
	log "the audit log is kept in PostgreSQL (schema audit); set MONGODB_URL to keep it in MongoDB"
	if [[ -d data/ferretdb && -n $(ls -A data/ferretdb 2>/dev/null) ]]; then
		log "data/ferretdb holds an audit log from an earlier version: services/audit/README.md, \"Stores\", says how to import it"
	fi
else
	log "the audit log is kept in MongoDB at MONGODB_URL"
fi

# ---- services ------------------------------------------------------------------------------------

for svc in "${SERVICES[@]}"; do
	port_open 127.0.0.1 "$(port_of "$svc")" &&
		die "port $(port_of "$svc") ($svc) is in use: is another 'make run' still running?"
done

log "building ${SERVICES[*]} into bin/"
go build -o bin/ "${SERVICES[@]/#/./services/}"

ready() { curl -fs -o /dev/null --max-time 2 "$1"; }

# The one step that changes an existing event stream (services only create a missing one): apply
# EVENTS_RETENTION_DAYS and STREAM_REPLICAS as this environment sets them.
stream=$(bin/gateway stream 2>&1) || die "the events stream could not be set up: $stream"
log "$stream"

for svc in "${SERVICES[@]}"; do
	url="http://127.0.0.1:$(port_of "$svc")${READY_PATH[$svc]}"
	log "starting $svc (log in $LOG_DIR/$svc.log)"
	OTEL_SERVICE_NAME=$svc setsid "bin/$svc" >"$LOG_DIR/$svc.log" 2>&1 &
	pid=$!
	track "$svc" "$pid"
	deadline=$((SECONDS + READY_TIMEOUT))
	until ready "$url"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 30 "$LOG_DIR/$svc.log" >&2
			die "$svc exited during start-up (log above, full log in $LOG_DIR/$svc.log)"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 30 "$LOG_DIR/$svc.log" >&2
			die "$svc was not ready at $url within ${READY_TIMEOUT}s (log above)"
		fi
		sleep 0.3
	done
	log "$svc is ready"
done

cat <<EOF

  Support desk is running.
    API          http://localhost:$(port_of gateway)
    Health       http://localhost:$(port_of gateway)/health
    API docs     http://localhost:$(port_of gateway)/docs
    Metrics      http://${GATEWAY_ADMIN_ADDR:-127.0.0.1:8010}/metrics (the gateway's; the others' on their ports)
    Traces       ${JAEGER_UI:-${OTEL_EXPORTER_OTLP_ENDPOINT:-none (see the log above)}}
    auth         http://localhost:$(port_of auth)/health/ready
    tickets      http://localhost:$(port_of tickets)/health/ready
    audit        http://localhost:$(port_of audit)/health/ready
    webhooks     http://localhost:$(port_of webhooks)/health/ready (WEBHOOK_ALLOW_PRIVATE=$WEBHOOK_ALLOW_PRIVATE: development only)
    Logs         $LOG_DIR/{auth,tickets,audit,webhooks,gateway}.log
  Press Ctrl-C to stop.

EOF

# Run until Ctrl-C, or until one of the processes exits on its own.
wait -n "${started_pids[@]}" || true
for i in "${!started_pids[@]}"; do
	if ! kill -0 "${started_pids[i]}" 2>/dev/null; then
		die "${started_names[i]} exited unexpectedly: see $LOG_DIR/${started_names[i]}.log"
	fi
done

#!/usr/bin/env bash
# Local dependencies for deploy/run.sh, `make test` and .ci/run.
#
# Source it to get the functions:
#     . deploy/deps.sh
#     ensure_postgres
# or run one function directly:
#     deploy/deps.sh ensure_postgres
#     deploy/deps.sh create_database support_system
#
# Functions:
#     ensure_postgres          PostgreSQL accepting password-less connections as postgres on 127.0.0.1:5432
#                              (installs it with apt and starts the cluster when needed)
#     ensure_nats              NATS with JetStream on 127.0.0.1:4222 (builds bin/nats-server and starts it
#                              when nothing listens there; sets DEPS_NATS_PID when it started one)
#     ensure_ferretdb_binary   bin/ferretdb built and newer than deploy/ferretdb
#     ensure_jaeger_binary     bin/jaeger (Jaeger v2) built and newer than deploy/jaeger's go.mod and go.sum
#     create_database NAME     CREATE DATABASE NAME unless it exists
#
# The functions never stop or reconfigure a server that is already running.

DEPS_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

DEPS_PG_HOST=127.0.0.1
DEPS_PG_PORT=5432
DEPS_NATS_HOST=127.0.0.1
DEPS_NATS_PORT=4222
DEPS_NATS_VERSION=v2.15.2

deps_log() { printf '[deps] %s\n' "$*" >&2; }
deps_error() { deps_log "ERROR: $*"; }

# port_open HOST PORT: true when something accepts TCP connections on HOST:PORT.
port_open() {
	# shellcheck disable=SC2016 # $1 and $2 belong to the inner bash.
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# wait_until SECONDS DESCRIPTION COMMAND...: run COMMAND every 0.2 s until it succeeds or time runs out.
wait_until() {
	local seconds=$1 what=$2
	shift 2
	local deadline=$((SECONDS + seconds))
	until "$@"; do
		if ((SECONDS >= deadline)); then
			deps_error "timed out after ${seconds}s waiting for $what"
			return 1
		fi
		sleep 0.2
	done
}

# as_root COMMAND...: run COMMAND as root (directly, or through sudo).
as_root() {
	if ((EUID == 0)); then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		deps_error "'$*' needs root and sudo is not installed"
		return 1
	fi
}

# apt_install PACKAGE...: install Debian packages, running apt-get update once per shell.
apt_install() {
	if ! command -v apt-get >/dev/null; then
		deps_error "apt-get not found: install $* yourself"
		return 1
	fi
	if [[ -z ${DEPS_APT_UPDATED:-} ]]; then
		deps_log "apt-get update"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
		DEPS_APT_UPDATED=1
	fi
	deps_log "apt-get install $*"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" || return 1
}

pg_ready() {
	pg_isready -q -h "$DEPS_PG_HOST" -p "$DEPS_PG_PORT"
}

# psql_admin ARGS...: psql as the postgres superuser over TCP, never prompting for a password.
psql_admin() {
	PGCONNECT_TIMEOUT=5 psql -X -q -w -v ON_ERROR_STOP=1 -h "$DEPS_PG_HOST" -p "$DEPS_PG_PORT" -U postgres "$@"
}

# pg_allow_trust VERSION CLUSTER: let every local TCP client connect without a password. Used only on a
# cluster this script installed or created, or in CI: it is a development setting.
pg_allow_trust() {
	local hba="/etc/postgresql/$1/$2/pg_hba.conf"
	if grep -Eq '^[[:space:]]*host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
		return 0
	fi
	deps_log "allowing password-less TCP connections from 127.0.0.1 in $hba"
	as_root sed -i '1i # Added by deploy/deps.sh (development/CI only): password-less local TCP connections.\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba" || return 1
	# The package's post-install may already have started the cluster: make it reread the file.
	as_root pg_ctlcluster --skip-systemctl-redirect "$1" "$2" reload 2>/dev/null || true
}

# pg_check_login: the postgres user can log in over TCP without a password.
pg_check_login() {
	if ! psql_admin -d postgres -c 'SELECT 1' >/dev/null; then
		deps_error "PostgreSQL refuses 'psql -h $DEPS_PG_HOST -p $DEPS_PG_PORT -U postgres' without a password; add 'host all all 127.0.0.1/32 trust' at the top of its pg_hba.conf and reload it"
		return 1
	fi
	deps_log "PostgreSQL is accepting connections on $DEPS_PG_HOST:$DEPS_PG_PORT"
}

ensure_postgres() {
	if command -v pg_isready >/dev/null && pg_ready; then
		pg_check_login
		return
	fi

	# A server is up (perhaps not ours) but the client tools are missing.
	if port_open "$DEPS_PG_HOST" "$DEPS_PG_PORT"; then
		command -v psql >/dev/null || apt_install postgresql-client || return 1
		wait_until 60 "PostgreSQL on $DEPS_PG_HOST:$DEPS_PG_PORT" pg_ready || return 1
		pg_check_login
		return
	fi

	local fresh=""
	if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
		deps_log "PostgreSQL is not installed: installing it"
		apt_install postgresql || return 1
		fresh=1
	fi

	# The cluster that owns our port: "VERSION NAME" from pg_lsclusters.
	local version name
	read -r version name < <(pg_lsclusters -h | awk -v port="$DEPS_PG_PORT" '$3 == port { print $1, $2; exit }') || true
	if [[ -z ${version:-} ]]; then
		if [[ -n $(pg_lsclusters -h) ]]; then
			pg_lsclusters >&2
			deps_error "no PostgreSQL cluster is configured for port $DEPS_PG_PORT"
			return 1
		fi
		version=$(basename "$(compgen -G '/usr/lib/postgresql/*' | sort -V | tail -n 1)")
		name=main
		deps_log "creating PostgreSQL cluster $version/$name on port $DEPS_PG_PORT"
		as_root pg_createcluster "$version" "$name" --port "$DEPS_PG_PORT" >/dev/null || return 1
		fresh=1
	fi

	if [[ -n $fresh || ${CI:-} == true ]]; then
		pg_allow_trust "$version" "$name" || return 1
	fi

	deps_log "starting PostgreSQL cluster $version/$name"
	# Succeeds or reports "already running" (e.g. listening on a socket only); readiness decides below.
	as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start ||
		deps_log "pg_ctlcluster start returned an error; waiting for the server anyway"
	wait_until 60 "PostgreSQL on $DEPS_PG_HOST:$DEPS_PG_PORT" pg_ready || return 1
	pg_check_login
}

ensure_nats() {
	if port_open "$DEPS_NATS_HOST" "$DEPS_NATS_PORT"; then
		deps_log "NATS is already listening on $DEPS_NATS_HOST:$DEPS_NATS_PORT (not started by us)"
		return 0
	fi

	local bin="$DEPS_REPO/bin/nats-server"
	if [[ ! -x $bin ]]; then
		deps_log "building bin/nats-server $DEPS_NATS_VERSION"
		GOBIN="$DEPS_REPO/bin" GOWORK=off go install "github.com/nats-io/nats-server/v2@$DEPS_NATS_VERSION" || return 1
	fi

	local logfile="$DEPS_REPO/data/logs/nats-server.log"
	mkdir -p "$DEPS_REPO/data/nats" "$DEPS_REPO/data/logs"
	deps_log "starting nats-server (JetStream data in data/nats, log in data/logs/nats-server.log)"
	# setsid: a Ctrl-C in the terminal reaches only the launcher, which stops its children in order.
	setsid "$bin" -js -sd "$DEPS_REPO/data/nats" -a "$DEPS_NATS_HOST" -p "$DEPS_NATS_PORT" >"$logfile" 2>&1 &
	DEPS_NATS_PID=$!
	echo "$DEPS_NATS_PID" >"$DEPS_REPO/data/nats-server.pid"

	if ! wait_until 30 "nats-server on $DEPS_NATS_HOST:$DEPS_NATS_PORT" port_open "$DEPS_NATS_HOST" "$DEPS_NATS_PORT"; then
		tail -n 20 "$logfile" >&2
		kill "$DEPS_NATS_PID" 2>/dev/null || true
		return 1
	fi
	deps_log "nats-server is listening on $DEPS_NATS_HOST:$DEPS_NATS_PORT (pid $DEPS_NATS_PID, also in data/nats-server.pid)"
}

ensure_ferretdb_binary() {
	local src="$DEPS_REPO/deploy/ferretdb" bin="$DEPS_REPO/bin/ferretdb"
	mkdir -p "$DEPS_REPO/bin"
	(
		# One build at a time, e.g. when `make test` and `make run` start together.
		flock 9
		if [[ -x $bin && -z $(find "$src" -type f -newer "$bin" -print -quit) ]]; then
			deps_log "bin/ferretdb is up to date"
			exit 0
		fi
		deps_log "building bin/ferretdb (the first build takes a few minutes)"
		cd "$src" && GOWORK=off go build -o "$bin.tmp" . && mv -f "$bin.tmp" "$bin"
	) 9>"$DEPS_REPO/bin/.ferretdb.lock" || {
		deps_error "building bin/ferretdb failed"
		return 1
	}
}

create_database() {
	local name=${1:?usage: create_database NAME}
	if [[ ! $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
		deps_error "refusing to create database with unusual name '$name'"
		return 1
	fi
	local exists
	exists=$(psql_admin -d postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = '$name'") || return 1
	if [[ $exists == 1 ]]; then
		deps_log "database $name exists"
		return 0
	fi
	deps_log "creating database $name"
	psql_admin -d postgres -c "CREATE DATABASE \"$name\"" >/dev/null
}

# Executed rather than sourced: run the function named by the first argument.
# ensure_jaeger_binary: bin/jaeger built from deploy/jaeger (Jaeger v2 from the Go module proxy) and
# newer than it. The first build takes several minutes (3 min 50 s on 2 cores).
ensure_jaeger_binary() {
	local src="$DEPS_REPO/deploy/jaeger" bin="$DEPS_REPO/bin/jaeger"
	mkdir -p "$DEPS_REPO/bin"
	(
		flock 9
		if [[ -x $bin && -z $(find "$src" -name 'go.*' -newer "$bin" -print -quit) ]]; then
			deps_log "bin/jaeger is up to date"
			exit 0
		fi
		deps_log "building bin/jaeger (the first build takes several minutes)"
		cd "$src" && GOWORK=off go build -o "$bin.tmp" github.com/jaegertracing/jaeger/cmd/jaeger && mv -f "$bin.tmp" "$bin"
	) 9>"$DEPS_REPO/bin/.jaeger.lock" || {
		deps_error "building bin/jaeger failed"
		return 1
	}
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -euo pipefail
	case ${1:-} in
	ensure_postgres | ensure_nats | ensure_ferretdb_binary | ensure_jaeger_binary | create_database) "$@" ;;
	*)
		echo "usage: $0 ensure_postgres | ensure_nats | ensure_ferretdb_binary | ensure_jaeger_binary | create_database NAME" >&2
		exit 2
		;;
	esac
fi


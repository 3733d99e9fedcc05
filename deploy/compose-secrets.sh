#!/usr/bin/env bash
# Writes the secrets docker-compose.yml reads into ./secrets (git-ignored; the folder is yours only, the
# files inside readable, as compose bind-mounts them into containers running as other users): random
# passwords for PostgreSQL, MongoDB and NATS, the URLs that carry them, a random SECRET_KEY, the initial
# users' passwords and the NATS server's configuration. Existing files are kept, so running it again
# changes nothing; delete one to make it anew (a database keeps the password it was created with).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p secrets
chmod 700 secrets
umask 022

random() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

# put NAME VALUE: write secrets/NAME unless it exists.
put() {
	if [[ ! -s secrets/$1 ]]; then
		printf '%s\n' "$2" >"secrets/$1"
		echo "wrote secrets/$1"
	fi
}
get() { tr -d '\n' <"secrets/$1"; }

put secret_key "$(random)$(random)"
put postgres_password "$(random)"
put mongodb_password "$(random)"
put nats_password "$(random)"
put initial_admin_password "$(random)"
put initial_staff_password "$(random)"
put initial_user_password "$(random)"
put database_url "postgres://postgres:$(get postgres_password)@postgres:5432/support_system?sslmode=disable"
put mongodb_url "mongodb://supportdesk:$(get mongodb_password)@mongodb:27017/?authSource=admin"
put nats_url "nats://supportdesk:$(get nats_password)@nats:4222"
put nats.conf "$(
	cat <<CONF
# NATS for docker-compose.yml: JetStream on the nats-data volume, monitoring (health checks) on 8222,
# and the one user the services connect as.
port: 4222
http_port: 8222
jetstream { store_dir: /data }
authorization {
  user: supportdesk
  password: "$(get nats_password)"
}
CONF
)"
echo "secrets are in ./secrets; the initial users' passwords too (set their emails in .env)"

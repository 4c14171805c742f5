#!/bin/sh
# Writes the secrets the compose file mounts into ./secrets/ (or $1):
#   postgres_password  the database password
#   ca_key_password    PORTIER_CA_KEY_PASSWORD: seals the CA keys in the database
#   portier.yaml       Portier's config, holding the PostgreSQL DSN
# The folder is 0700 so other users of this machine cannot read it; the
# files are 0444 because the containers read them as their own users.
# It refuses to overwrite existing secrets: a new CA key password would lock
# Portier out of the CA already sealed in the database.
set -eu
dir=${1:-./secrets}
host=${PORTIER_HOST:-portier.localhost}
if [ -e "$dir/ca_key_password" ] || [ -e "$dir/postgres_password" ] || [ -e "$dir/portier.yaml" ]; then
  echo "gen-secrets.sh: $dir already holds secrets; not overwriting them" >&2
  exit 1
fi
umask 077
mkdir -p "$dir"
chmod 0700 "$dir"
rand() { LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c "$1"; }
pg=$(rand 32)
rand 48 >"$dir/ca_key_password"
printf '%s' "$pg" >"$dir/postgres_password"
cat >"$dir/portier.yaml" <<YAML
external_url: https://$host:8443
listen: ":8443"
store: postgres://portier:$pg@postgres:5432/portier?sslmode=disable
ca:
  key_password_file: /run/secrets/ca_key_password
YAML
chmod 0444 "$dir/ca_key_password" "$dir/postgres_password" "$dir/portier.yaml"
echo "gen-secrets.sh: wrote $dir (external URL https://$host:8443)"

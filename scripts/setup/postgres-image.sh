#!/usr/bin/env bash
# Build the local stand-in for the official PostgreSQL image, for machines that
# reach no container registry: Debian trixie (debian_base in scripts/lib/lib.sh) + Debian's
# `postgresql` package, with the official image's interface as far as our
# compose and stack files use it:
#   POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (one is required on first start),
#   POSTGRES_USER (default postgres), POSTGRES_DB (default $POSTGRES_USER),
#   data in /var/lib/postgresql/data (PGDATA), listening on 0.0.0.0:5432 with
#   scram-sha-256 for TCP, pg_isready on PATH, SIGINT as stop signal (fast shutdown).
# Tags: tasks-backend-postgres:MAJOR and postgres:MAJOR, MAJOR being the major
# version Debian ships (checked in the built image, never assumed), so compose
# files can name the official image and still run here.
# Usage: scripts/setup/postgres-image.sh     Prints the tags. Cached: does nothing when
# both tags exist.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/lib.sh
source "$here/../lib/lib.sh"
ensure_docker
base="tasks-backend-builder-base:trixie"
work_tag="tasks-backend-postgres:build"

standin_present postgres '[0-9]+' && exit 0

debian_base "$base"
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT

# The entrypoint: initialise on an empty data directory, then run the server in
# the foreground as user postgres. Plain sh: this is a test stand-in, not one of
# our hardened images.
cat >"$ctx/entrypoint.sh" <<'SH'
#!/bin/sh
set -eu
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
export PGDATA
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 0700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    POSTGRES_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
  fi
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "postgres: POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE must be set on first start" >&2
    exit 2
  fi
  user="${POSTGRES_USER:-postgres}"
  db="${POSTGRES_DB:-$user}"
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 -E UTF8 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  # Create the database on a socket-only server, so that pg_isready over TCP
  # says "ready" only once the real server runs (the official image does the same).
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  if [ "$db" != postgres ]; then
    psql -v ON_ERROR_STOP=1 -U "$user" -d postgres -q -c "CREATE DATABASE \"$db\"" >/dev/null
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "postgres: initialised $PGDATA (user $user, database $db)"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
SH

cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $base
# No cluster at install time: the entrypoint makes one in PGDATA on first start.
RUN mkdir -p /etc/postgresql-common/createcluster.d \\
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/no-main.conf \\
 && apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \\
 && ln -s /usr/lib/postgresql/*/bin/* /usr/local/bin/ \\
 && install -d -o postgres -g postgres -m 2775 /var/run/postgresql \\
 && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data
COPY --chmod=0755 entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PGDATA=/var/lib/postgresql/data
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
DOCKERFILE

echo "postgres-image: installing Debian's postgresql"
DOCKER_BUILDKIT=1 "$DOCKER" build -q -t "$work_tag" "$ctx" >/dev/null
version=$("$DOCKER" run --rm --entrypoint postgres "$work_tag" --version | awk '{ print $3 }')
echo "postgres-image: PostgreSQL $version"
standin_tag postgres "$work_tag" "${version%%.*}" '[0-9]+'

#!/bin/sh
# Start the local PostgreSQL cluster (Debian's postgresql package, installed
# by scripts/deps.sh) and make sure the test database exists, so the SQL
# tests run against a real server. Idempotent; prints the URL to use.
#   sh scripts/pg-test.sh           -> postgresql:///vortexc_test
# The tests read VX_TEST_PG_URL; the Makefile sets it from this script.
set -eu
DB=${VX_TEST_PG_DB:-vortexc_test}
ME=$(id -un)
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

cluster=$(pg_lsclusters -h 2>/dev/null | head -n1)
if [ -z "$cluster" ]; then
    echo "pg-test.sh: no PostgreSQL cluster (is the postgresql package installed?)" >&2
    exit 1
fi
ver=$(echo "$cluster" | awk '{print $1}')
name=$(echo "$cluster" | awk '{print $2}')
status=$(echo "$cluster" | awk '{print $4}')
if [ "$status" != online ]; then
    $SUDO pg_ctlcluster "$ver" "$name" start >&2
fi
# Wait for the socket (a fresh cluster takes a moment on a slow machine).
i=0
until as_postgres psql -qAt -c 'select 1' >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 60 ]; then
        echo "pg-test.sh: PostgreSQL did not come up" >&2
        exit 1
    fi
    sleep 0.5
done
if ! as_postgres psql -qAt -c "select 1 from pg_roles where rolname='$ME'" | grep -q 1; then
    as_postgres psql -q -c "create role \"$ME\" superuser login" >&2
fi
if ! as_postgres psql -qAt -c "select 1 from pg_database where datname='$DB'" | grep -q 1; then
    as_postgres psql -q -c "create database \"$DB\" owner \"$ME\"" >&2
fi
echo "postgresql:///$DB"

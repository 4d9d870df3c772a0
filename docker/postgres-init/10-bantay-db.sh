#!/usr/bin/env bash
# Creates bantay's database (the model registry and Feast's SQL registry) with its own role, next
# to Airflow's metadata database. The postgres image runs this once, on the first start with an
# empty data volume; to re-run it, remove the volume (docker compose down -v).
set -euo pipefail

: "${POSTGRES_USER:?POSTGRES_USER is not set: the postgres image needs it}"
: "${BANTAY_DB_NAME:?set BANTAY_DB_NAME on the postgres service (docker-compose.yaml)}"
: "${BANTAY_DB_USER:?set BANTAY_DB_USER on the postgres service (docker-compose.yaml)}"
: "${BANTAY_DB_PASSWORD:?set BANTAY_DB_PASSWORD on the postgres service (docker-compose.yaml)}"

# psql variables (:"name" quotes an identifier, :'name' a literal), so odd characters in a
# password cannot break the statement.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
  -v db="$BANTAY_DB_NAME" -v role="$BANTAY_DB_USER" -v password="$BANTAY_DB_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL

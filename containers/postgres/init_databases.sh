#!/usr/bin/env bash
# PostgreSQL's first start in compose (/docker-entrypoint-initdb.d): one database and one login role per
# service that owns data in PostgreSQL, each the owner of its own database and nothing else. The schemas
# are NOT made here: each service applies its own migrations (services/<svc>/store/migrations) at start,
# exactly as in `deno task dev` and the tests. Passwords come from compose.yaml (DEV ONLY defaults).
set -euo pipefail
for service in user order payment notification; do
  var="SHOP_${service^^}_DB_PASSWORD"
  password=${!var:?"$var is not set"}
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set=role="shop_$service" --set=password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
done

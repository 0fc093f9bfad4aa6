#!/usr/bin/env bash
# The compose `certs` one-shot (Dockerfile target certs), DEV ONLY: runs the same scripts/certs as
# `deno task dev` into the certs volume (idempotent: a second `docker compose up` reuses what is there),
# then hands each private key to the uid of the container that reads it. Services mount the volume
# read-only; the keys stay mode 600.
#
#   uid 1993 (the Deno image's `deno`; Envoy runs as it too)  every identity's key and the JWT key
#   uid 65534 (`nobody`, Prometheus' image)                    prometheus.key
#   root                                                       ca.key: no container but this one reads it
#
# SHOP_CERTS_EXTRA_DNS adds container host names to an identity's certificate (scripts/certs).
set -euo pipefail
dir=${SHOP_CERTS_DIR:-/certs}
bash "$(dirname "$0")/../../scripts/certs" "$dir"
chown -R 1993:1993 "$dir"
chown 0:0 "$dir/ca.key"
chown 65534:65534 "$dir/prometheus.key"
# scripts/certs makes the directory 700 for a developer's clone; here several uids must enter it.
chmod 755 "$dir"
echo "certs: owners set in $dir"

#!/usr/bin/env bash
# The compose `certs` one-shot (Dockerfile target certs), DEV ONLY CA: runs the same scripts/certs as
# `deno task dev` into `all/` of the certs volume (idempotent: a second `docker compose up` reuses what is
# there; root only), then gives each container a directory of its own holding the CA certificate and
# its own certificate and key (and its etcd password in etcd/), and nothing else. compose.yaml mounts each container's directory only
# (a volume subpath) at /certs, read-only; the keys stay mode 600, owned by the uid that reads them:
#
#   user, product, order, payment, cart, notification, gateway, client, edge   uid 1993 (the Deno image's `deno`; Envoy runs as it)
#   prometheus                                        uid 65534 (`nobody`, Prometheus' image)
#   etcd                                              root (etcd's image): its server certificate, no password
#   etcd-root                                         uid 1993: the `etcd-access` one-shot's, the client certificate
#                                                     and every etcd password (it creates the users)
#   all/ (ca.key and every key)                       root: no container but this one mounts it
#
# `user/` also holds the JWT signing keys (`jwt/`). SHOP_CERTS_EXTRA_DNS adds container host names to an
# identity's certificate (scripts/certs). SHOP_CERTS_CHOWN=false skips the owners (a test runs this
# script as a normal user).
set -euo pipefail
dir=${SHOP_CERTS_DIR:-/certs}
all="$dir/all"
mkdir -p "$all"
chmod 700 "$all"
bash "$(dirname "$0")/../../scripts/certs" "$all"
own() { if [ "${SHOP_CERTS_CHOWN:-true}" = true ]; then chown -R "$@"; fi; }
for identity in user product order payment cart notification gateway client prometheus edge etcd; do
  mine="$dir/$identity"
  rm -rf "$mine"
  mkdir -p "$mine"
  cp "$all/ca.crt" "$all/$identity.crt" "$all/$identity.key" "$mine/"
  if [ "$identity" = user ]; then cp -R "$all/jwt" "$mine/jwt"; fi
  if [ -f "$all/etcd/$identity.password" ]; then
    mkdir -p "$mine/etcd"
    cp "$all/etcd/$identity.password" "$mine/etcd/"
    chmod 600 "$mine/etcd/$identity.password"
  fi
  chmod 600 "$mine/$identity.key"
  chmod 755 "$mine"
  case "$identity" in
    prometheus) own 65534:65534 "$mine" ;;
    etcd) own 0:0 "$mine" ;;
    *) own 1993:1993 "$mine" ;;
  esac
done
# The etcd-access one-shot: the client certificate, and every password (root's too).
mine="$dir/etcd-root"
rm -rf "$mine"
mkdir -p "$mine/etcd"
cp "$all/ca.crt" "$all/client.crt" "$all/client.key" "$mine/"
cp "$all"/etcd/*.password "$mine/etcd/"
chmod 600 "$mine/client.key" "$mine"/etcd/*.password
own 1993:1993 "$mine"
own 0:0 "$all"
# Several uids must enter the volume's root to reach their own directory.
chmod 755 "$dir"
echo "certs: one directory per container in $dir"

#!/bin/sh
# The compose `gateway-config` one-shot (Dockerfile target gateway-config): renders the gateway's Envoy
# configuration with the SAME renderer as `deno task dev` (envoy/render_config.ts), settings from
# SHOP_GATEWAY_* (container paths, listener on 0.0.0.0; see compose.yaml), and puts the transcoder's
# descriptor set from this image (built from proto/gen/shop.binpb) and the OpenAPI document Envoy serves
# at /openapi.json (proto/gen/openapi.json) beside it, where Envoy's container reads them. Also writes an empty EDS file per cluster that has none, so Envoy can start before the
# edge bridge has written any.
set -eu
out_dir=$(dirname "$SHOP_GATEWAY_OUT")
mkdir -p "$out_dir" "$SHOP_GATEWAY_ENDPOINTS_DIR"
cp proto/gen/shop.binpb "$SHOP_GATEWAY_DESCRIPTOR"
cp proto/gen/openapi.json "$SHOP_GATEWAY_OPENAPI"
# The built UI (web/dist, made in the image by web/build.ts), served at / and /admin.
rm -rf "$SHOP_GATEWAY_WEB"
cp -R web/dist "$SHOP_GATEWAY_WEB"
exec deno run --cached-only --allow-env --allow-read \
  --allow-write="$out_dir,$SHOP_GATEWAY_ENDPOINTS_DIR" envoy/render_config.ts

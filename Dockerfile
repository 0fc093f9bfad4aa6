# syntax=docker/dockerfile:1
# One Dockerfile, one target per program of the stack (compose.yaml builds each with `target:`):
#
#   user, product, order, payment, cart, notification   the six services
#   stripe-simulator                DEV/TEST TOOL in front of stripe-mock, never part of a deployment
#   edge                            writes Envoy's EDS files from the registry in etcd
#   gateway-config                  one-shot: renders envoy/render_config.ts into the gateway's volume
#   etcd-access                     one-shot: etcd's users and roles (each service writes only its own keys)
#   certs                           one-shot: scripts/certs into the certs volume (DEV ONLY CA)
#
# Every Deno target runs as the image's non-root user `deno` (uid 1993), holds only the workspace's npm
# packages (installed at build time from deno.lock), the generated contracts, the kit and its own folder,
# and takes its configuration from the environment (SHOP_<SVC>_*, see each service's config.ts).
# containers/compose_test.ts checks that every module a target runs is copied into it.

ARG DENO_VERSION=2.9.6

# ---------------------------------------------------------------------------------------------------
# The npm packages of the whole workspace, exactly as deno.lock pins them. Only the manifests are copied,
# so this layer is rebuilt only when a dependency changes, and every target shares it.
FROM denoland/deno:${DENO_VERSION} AS deps
WORKDIR /app
# Deno keeps node_modules and its cache up to date at run time: both belong to the user that runs it.
RUN mkdir -p /app/node_modules && chown deno:deno /app/node_modules /deno-dir
COPY deno.json deno.lock ./
COPY proto/deno.json proto/
COPY services/platform/deno.json services/platform/
COPY services/user/deno.json services/user/
COPY services/product/deno.json services/product/
COPY services/order/deno.json services/order/
COPY services/payment/deno.json services/payment/
COPY services/cart/deno.json services/cart/
COPY services/edge/deno.json services/edge/
COPY services/notification/deno.json services/notification/
COPY web/deno.json web/
USER deno
RUN deno install --frozen
# The code below is owned by root and read-only for the service.
USER root

# What every Deno program needs: the contracts (entry points and generated code), the kit, and the
# health probe. Source files only: tests, test data and the test harness stay out (.dockerignore).
FROM deps AS deno-base
COPY proto/*.ts proto/
COPY proto/gen proto/gen
COPY services/platform services/platform
COPY containers/healthcheck.ts containers/
ENV NO_COLOR=1

# ---------------------------------------------------------------------------------------------------
FROM deno-base AS user
COPY services/user services/user
USER deno
RUN deno cache --frozen services/user/main.ts containers/healthcheck.ts
ENV SHOP_USER_SERVER_HOST=0.0.0.0 SHOP_USER_SERVER_PORT=50051 SHOP_USER_TLS_CERTS_DIR=/certs \
    SHOP_USER_JWT_KEYS_DIR=/certs/jwt
EXPOSE 50051
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["deno", "run", "--cached-only", "--allow-env", "--allow-read", "--allow-net=127.0.0.1", "containers/healthcheck.ts", "grpc", "user", "50051"]
CMD ["deno", "run", "--cached-only", "--allow-env", "--allow-net", "--allow-read", "--allow-sys", "services/user/main.ts"]

FROM deno-base AS product
COPY services/product services/product
USER deno
RUN deno cache --frozen services/product/main.ts containers/healthcheck.ts
ENV SHOP_PRODUCT_SERVER_HOST=0.0.0.0 SHOP_PRODUCT_SERVER_PORT=50052 SHOP_PRODUCT_TLS_CERTS_DIR=/certs
EXPOSE 50052
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["deno", "run", "--cached-only", "--allow-env", "--allow-read", "--allow-net=127.0.0.1", "containers/healthcheck.ts", "grpc", "product", "50052"]
CMD ["deno", "run", "--cached-only", "--allow-env", "--allow-net", "--allow-read", "--allow-sys", "services/product/main.ts"]

FROM deno-base AS order
COPY services/order services/order
USER deno
RUN deno cache --frozen services/order/main.ts containers/healthcheck.ts
ENV SHOP_ORDER_SERVER_HOST=0.0.0.0 SHOP_ORDER_SERVER_PORT=50053 SHOP_ORDER_TLS_CERTS_DIR=/certs
EXPOSE 50053
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["deno", "run", "--cached-only", "--allow-env", "--allow-read", "--allow-net=127.0.0.1", "containers/healthcheck.ts", "grpc", "order", "50053"]
CMD ["deno", "run", "--cached-only", "--allow-env", "--allow-net", "--allow-read", "--allow-sys", "services/order/main.ts"]

FROM deno-base AS payment
COPY services/payment services/payment
USER deno
RUN deno cache --frozen services/payment/main.ts containers/healthcheck.ts
ENV SHOP_PAYMENT_SERVER_HOST=0.0.0.0 SHOP_PAYMENT_SERVER_PORT=50054 SHOP_PAYMENT_TLS_CERTS_DIR=/certs
EXPOSE 50054
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["deno", "run", "--cached-only", "--allow-env", "--allow-read", "--allow-net=127.0.0.1", "containers/healthcheck.ts", "grpc", "payment", "50054"]
CMD ["deno", "run", "--cached-only", "--allow-env", "--allow-net", "--allow-read", "--allow-sys", "services/payment/main.ts"]

FROM deno-base AS cart
COPY services/cart services/cart
USER deno
RUN deno cache --frozen services/cart/main.ts containers/healthcheck.ts
ENV SHOP_CART_SERVER_HOST=0.0.0.0 SHOP_CART_SERVER_PORT=50056 SHOP_CART_TLS_CERTS_DIR=/certs
EXPOSE 50056
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["deno", "run", "--cached-only", "--allow-env", "--allow-read", "--allow-net=127.0.0.1", "containers/healthcheck.ts", "grpc", "cart", "50056"]
CMD ["deno", "run", "--cached-only", "--allow-env", "--allow-net", "--allow-read", "--allow-sys", "services/cart/main.ts"]

# Internal: emails customers about their orders (SMTP out); called by the order service only.
FROM deno-base AS notification
COPY services/notification services/notification
USER deno
RUN deno cache --frozen services/notification/main.ts containers/healthcheck.ts
ENV SHOP_NOTIFICATION_SERVER_HOST=0.0.0.0 SHOP_NOTIFICATION_SERVER_PORT=50055 SHOP_NOTIFICATION_TLS_CERTS_DIR=/certs
EXPOSE 50055
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["deno", "run", "--cached-only", "--allow-env", "--allow-read", "--allow-net=127.0.0.1", "containers/healthcheck.ts", "grpc", "notification", "50055"]
CMD ["deno", "run", "--cached-only", "--allow-env", "--allow-net", "--allow-read", "--allow-sys", "services/notification/main.ts"]

# DEV/TEST TOOL: the Stripe test-mode simulator (services/payment/stripe_simulator), in front of stripe-mock.
FROM deno-base AS stripe-simulator
COPY services/payment services/payment
USER deno
RUN deno cache --frozen services/payment/stripe_simulator/main.ts containers/healthcheck.ts
ENV SHOP_STRIPE_SIMULATOR_SERVER_HOST=0.0.0.0 SHOP_STRIPE_SIMULATOR_SERVER_PORT=12112
EXPOSE 12112
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["deno", "run", "--cached-only", "--allow-env", "--allow-net=127.0.0.1", "containers/healthcheck.ts", "http", "http://127.0.0.1:12112/_simulator/state"]
CMD ["deno", "run", "--cached-only", "--allow-env", "--allow-net", "--allow-read", "services/payment/stripe_simulator/main.ts"]

# The edge bridge imports the gateway's list of upstream clusters from envoy/gateway_config.ts.
FROM deno-base AS edge
COPY envoy/gateway_config.ts envoy/
COPY services/edge services/edge
# A fresh named volume takes the owner of the directory it is mounted on: the bridge writes there.
RUN mkdir -p /endpoints && chown deno:deno /endpoints
USER deno
RUN deno cache --frozen services/edge/main.ts containers/healthcheck.ts
ENV SHOP_EDGE_ENDPOINTS_DIR=/endpoints
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["deno", "run", "--cached-only", "--allow-env", "--allow-read", "containers/healthcheck.ts", "eds", "user", "product", "order", "payment", "cart"]
CMD ["deno", "run", "--cached-only", "--allow-env", "--allow-net", "--allow-read", "--allow-sys", "--allow-write=/endpoints", "services/edge/main.ts"]

# One-shot: etcd's users and roles (containers/etcd/access.ts, the same rules as `deno task dev`).
FROM deno-base AS etcd-access
COPY containers/etcd/access.ts containers/etcd/
USER deno
RUN deno cache --frozen containers/etcd/access.ts
ENV SHOP_ETCD_ACCESS_CERTS_DIR=/certs
CMD ["deno", "run", "--cached-only", "--allow-env", "--allow-net", "--allow-read", "containers/etcd/access.ts"]

# One-shot: the SAME renderer `deno task dev` runs (envoy/render_config.ts), with container paths from
# SHOP_GATEWAY_* (compose.yaml), writing into the gateway's volume; Envoy's image only reads the result.
FROM deno-base AS gateway-config
COPY envoy/gateway_config.ts envoy/render_config.ts envoy/
COPY services/edge services/edge
COPY containers/gateway/render.sh containers/gateway/
# The storefront and admin console (web/build.ts, esbuild from the npm layer), built into the image; the
# one-shot copies web/dist beside the rest of Envoy's files.
COPY web/build.ts web/deno.json web/
COPY web/src web/src
# The demo catalog's pictures, which the build copies into web/dist/images (served under /images/).
COPY services/product/demo_images services/product/demo_images
RUN mkdir -p /gateway /endpoints /app/web/dist && chown deno:deno /gateway /endpoints /app/web/dist
USER deno
RUN deno cache --frozen envoy/render_config.ts web/build.ts && \
    deno run --cached-only --allow-env --allow-read --allow-run --allow-write=/app/web/dist web/build.ts
ENV SHOP_GATEWAY_OUT=/gateway/envoy.json SHOP_GATEWAY_TLS_CERTS_DIR=/certs \
    SHOP_GATEWAY_ENDPOINTS_DIR=/endpoints SHOP_GATEWAY_DESCRIPTOR=/gateway/shop.binpb \
    SHOP_GATEWAY_OPENAPI=/gateway/openapi.json SHOP_GATEWAY_WEB=/gateway/web
CMD ["sh", "containers/gateway/render.sh"]

# ---------------------------------------------------------------------------------------------------
# One-shot, DEV ONLY: the dev CA and every identity's certificate, by the same scripts/certs as
# `deno task dev`. Runs as root only to hand each key to the uid that reads it (containers/certs/run.sh).
FROM debian:bookworm-slim AS certs
RUN apt-get update \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssl \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/shop
COPY scripts/certs scripts/
COPY containers/certs/run.sh containers/certs/
CMD ["bash", "containers/certs/run.sh"]

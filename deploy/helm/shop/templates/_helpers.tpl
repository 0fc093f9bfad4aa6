{{/*
Helpers shared by the chart's templates. Names: "<release>-<component>"; labels: the standard
app.kubernetes.io set, with `component` naming the program (user, gateway, etcd, ...), which the
network policies select on.
*/}}

{{- define "shop.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* "<fullname>-<component>"; call with (list $ "user"). */}}
{{- define "shop.name" -}}
{{- printf "%s-%s" (include "shop.fullname" (index . 0)) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The selector labels of a component; call with (list $ "user"). */}}
{{- define "shop.selectorLabels" -}}
app.kubernetes.io/name: {{ (index . 0).Chart.Name }}
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* Every label of a component's objects; call with (list $ "user"). */}}
{{- define "shop.labels" -}}
{{ include "shop.selectorLabels" . }}
app.kubernetes.io/version: {{ (index . 0).Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ (index . 0).Release.Service }}
helm.sh/chart: {{ printf "%s-%s" (index . 0).Chart.Name (index . 0).Chart.Version }}
{{- end -}}

{{/* The image of a Dockerfile target; call with (list $ "user"). */}}
{{- define "shop.image" -}}
{{- $v := (index . 0).Values.image -}}
{{- printf "%s/%s:%s" $v.repository (index . 1) $v.tag -}}
{{- end -}}

{{/*
The services each shop service calls, and the stores it uses: the architecture's call graph (ARCHITECTURE.md
section 2 and each service's README). deploy/helm/shop/chart_test.ts derives the same graph from the
services' config schemas and checks the network policies against it.
*/}}
{{- define "shop.callGraph" -}}
user: { calls: [], stores: [postgres] }
product: { calls: [], stores: [mongo] }
order: { calls: [product, payment, notification], stores: [postgres] }
payment: { calls: [order], stores: [postgres, stripe] }
notification: { calls: [user], stores: [postgres, smtp] }
cart: { calls: [product, order], stores: [redis] }
{{- end -}}

{{/* The services Envoy routes to (envoy/gateway_config.ts, upstreamServices). */}}
{{- define "shop.publicServices" -}}
[user, product, order, payment, cart]
{{- end -}}

{{/* The etcd client endpoints, comma-separated. */}}
{{- define "shop.etcdEndpoints" -}}
{{- $scheme := ternary "https" "http" .Values.etcd.clientTls -}}
{{- $name := include "shop.name" (list . "etcd") -}}
{{- $urls := list -}}
{{- range $i := until (int .Values.etcd.replicas) -}}
{{- $urls = append $urls (printf "%s://%s-%d.%s-peers.%s.svc:2379" $scheme $name $i $name $.Release.Namespace) -}}
{{- end -}}
{{- join "," $urls -}}
{{- end -}}

{{/* The restricted pod security context every pod of the chart runs with; call with the uid. */}}
{{- define "shop.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ . }}
fsGroup: {{ . }}
seccompProfile: { type: RuntimeDefault }
{{- end -}}

{{- define "shop.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
privileged: false
capabilities: { drop: [ALL] }
seccompProfile: { type: RuntimeDefault }
{{- end -}}

{{/*
The mTLS certificate of one identity, as the services read it (<dir>/<identity>.crt, .key, ca.crt):
a projected volume over the identity's Secret (kubernetes.io/tls keys), and for an etcd user its etcd
password (<dir>/etcd/<identity>.password); call with (list $ "user").
*/}}
{{- define "shop.certVolume" -}}
- name: certs
  projected:
    defaultMode: 0440
    sources:
      - secret:
          name: {{ include "shop.name" (list (index . 0) (printf "tls-%s" (index . 1))) }}
          items:
            - { key: tls.crt, path: {{ index . 1 }}.crt }
            - { key: tls.key, path: {{ index . 1 }}.key }
            - { key: ca.crt, path: ca.crt }
      {{- if has (index . 1) (include "shop.etcdUsers" (index . 0) | fromYamlArray) }}
      {{- include "shop.etcdPasswordSource" . | nindent 6 }}
      {{- end }}
{{- end -}}

{{/*
The identities that get a certificate (scripts/certs issues the same set). `client` is the certificate
the etcd-access Job connects to etcd with as etcd's root (root has no certificate of its own).
*/}}
{{- define "shop.identities" -}}
[user, product, order, payment, notification, cart, gateway, edge, prometheus, etcd, client]
{{- end -}}

{{/* The identities that are etcd users (each may write only its own registrations). */}}
{{- define "shop.etcdUsers" -}}
[user, product, order, payment, notification, cart, edge]
{{- end -}}

{{/* The Secret with the etcd passwords (`root.password`, `<identity>.password`). */}}
{{- define "shop.etcdPasswordsSecret" -}}
{{- .Values.etcd.auth.passwordsSecret | default (include "shop.name" (list . "etcd-passwords")) -}}
{{- end -}}

{{/*
An identity's etcd password where etcdAccessOf reads it (<certsDir>/etcd/<identity>.password), as a
source of a projected volume; nothing when etcd's users are off. Call with (list $ "user").
*/}}
{{- define "shop.etcdPasswordSource" -}}
{{- $ := index . 0 -}}
{{- $id := index . 1 -}}
{{- if $.Values.etcd.auth.enabled -}}
- secret:
    name: {{ include "shop.etcdPasswordsSecret" $ }}
    items:
      - { key: {{ $id }}.password, path: etcd/{{ $id }}.password }
{{- end -}}
{{- end -}}

{{/* The DNS names of an identity's certificate beyond its own name; call with (list $ "etcd"). */}}
{{- define "shop.extraDns" -}}
{{- $ := index . 0 -}}
{{- $id := index . 1 -}}
{{- $names := list (printf "%s.%s.svc" (include "shop.name" (list $ $id)) $.Release.Namespace) -}}
{{- if eq $id "etcd" -}}
{{- $name := include "shop.name" (list $ "etcd") -}}
{{- $names = append $names (printf "*.%s-peers.%s.svc" $name $.Release.Namespace) -}}
{{- $names = append $names (printf "*.%s-peers.%s.svc.cluster.local" $name $.Release.Namespace) -}}
{{- end -}}
{{- join "," $names -}}
{{- end -}}

{{/* Network policy peers: the pods of a component of this release; call with (list $ "user"). */}}
{{- define "shop.peer" -}}
- podSelector:
    matchLabels:
      {{- include "shop.selectorLabels" . | nindent 6 }}
{{- end -}}

{{/* Egress to the cluster's DNS. */}}
{{- define "shop.dnsEgress" -}}
- to:
    - namespaceSelector:
        matchLabels: { kubernetes.io/metadata.name: {{ .Values.dns.namespace }} }
      podSelector:
        matchLabels: {{- toYaml .Values.dns.podLabels | nindent 10 }}
  ports:
    - { protocol: UDP, port: 53 }
    - { protocol: TCP, port: 53 }
{{- end -}}

{{/* Egress to the OTLP endpoint, when traces are on. */}}
{{- define "shop.otlpEgress" -}}
{{- if .Values.tracing.otlpEndpoint }}
- to:
    {{- range .Values.tracing.egressCidrs }}
    - ipBlock: { cidr: {{ . }} }
    {{- end }}
  ports:
    - { protocol: TCP, port: {{ .Values.tracing.port }} }
{{- end }}
{{- end -}}

{{/* The tracing variables every shop process reads (services/platform/tracing), when traces are on. */}}
{{- define "shop.tracingEnv" -}}
{{- if .Values.tracing.otlpEndpoint }}
- { name: SHOP_TRACING_ENDPOINT, value: {{ .Values.tracing.otlpEndpoint | quote }} }
- { name: SHOP_TRACING_SAMPLE_RATIO, value: {{ .Values.tracing.sampleRatio | quote }} }
{{- end }}
{{- end -}}

{{/* Egress to a store: in the chart (its pods) or external (its CIDRs); call with (list $ "postgres"). */}}
{{- define "shop.storeEgress" -}}
{{- $ := index . 0 -}}
{{- $store := index . 1 -}}
{{- $v := index $.Values $store -}}
- to:
    {{- if $v.external }}
    {{- range $v.egressCidrs }}
    - ipBlock: { cidr: {{ . }} }
    {{- end }}
    {{- else }}
    {{- include "shop.peer" (list $ $store) | nindent 4 }}
    {{- end }}
  ports:
    - { protocol: TCP, port: {{ $v.port }} }
{{- end -}}

{{/* Chart name, possibly overridden. */}}
{{- define "keywarden.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Prefix of every object name; kept short so "<fullname>-controller" etc. fit in 63 characters. */}}
{{- define "keywarden.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "keywarden.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "keywarden.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: keywarden
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of one component: include with (dict "ctx" $ "component" "controller"). */}}
{{- define "keywarden.componentLabels" -}}
{{ include "keywarden.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "keywarden.selectorLabels" -}}
app.kubernetes.io/name: {{ include "keywarden.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "keywarden.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end }}

{{- define "keywarden.controller.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create -}}
{{ default (printf "%s-controller" (include "keywarden.fullname" .)) .Values.controller.serviceAccount.name }}
{{- else -}}
{{ default "default" .Values.controller.serviceAccount.name }}
{{- end -}}
{{- end }}

{{- define "keywarden.webhook.serviceAccountName" -}}
{{- if .Values.webhook.serviceAccount.create -}}
{{ default (printf "%s-webhook" (include "keywarden.fullname" .)) .Values.webhook.serviceAccount.name }}
{{- else -}}
{{ default "default" .Values.webhook.serviceAccount.name }}
{{- end -}}
{{- end }}

{{- define "keywarden.webhook.serviceName" -}}
{{ include "keywarden.fullname" . }}-webhook
{{- end }}

{{/* The Secret holding the serving certificate (bootstrap: also the CA; cert-manager: its output). */}}
{{- define "keywarden.webhook.tlsSecretName" -}}
{{ include "keywarden.fullname" . }}-webhook-tls
{{- end }}

{{/* Name of the ApiKey Mutating- and ValidatingWebhookConfiguration (the same, like buildWebhookConfigurations). */}}
{{- define "keywarden.webhook.configurationName" -}}
{{ include "keywarden.fullname" . }}
{{- end }}

{{- define "keywarden.injection.configurationName" -}}
{{ include "keywarden.fullname" . }}-injection
{{- end }}

{{- define "keywarden.injection.configMapName" -}}
{{ include "keywarden.fullname" . }}-injector
{{- end }}

{{- define "keywarden.validator.clusterRoleName" -}}
{{ include "keywarden.fullname" . }}-validator
{{- end }}

{{- define "keywarden.validator.tokenSecretName" -}}
{{ .Values.validator.serviceAccount.name }}-token
{{- end }}

{{/* The namespaces validators serve, as a list of {name, serviceAccounts}. */}}
{{- define "keywarden.validator.namespaces" -}}
{{- $out := list }}
{{- range .Values.validator.namespaces }}
{{- if kindIs "string" . }}
{{- $out = append $out (dict "name" . "serviceAccounts" (list)) }}
{{- else }}
{{- $out = append $out (dict "name" .name "serviceAccounts" (default (list) .serviceAccounts)) }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* Subjects of the validator bindings: the chart's account and the listed ones, per namespace. */}}
{{- define "keywarden.validator.subjects" -}}
{{- $ctx := .ctx }}
{{- if $ctx.Values.validator.serviceAccount.create }}
- kind: ServiceAccount
  name: {{ $ctx.Values.validator.serviceAccount.name }}
  namespace: {{ .ns.name }}
{{- end }}
{{- range .ns.serviceAccounts }}
{{- if ne . $ctx.Values.validator.serviceAccount.name }}
- kind: ServiceAccount
  name: {{ . }}
  namespace: {{ $.ns.name }}
{{- end }}
{{- end }}
{{- end }}

{{/* Soft or hard anti-affinity between the replicas of one component. */}}
{{- define "keywarden.antiAffinity" -}}
podAntiAffinity:
{{- if eq .mode "hard" }}
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          {{- include "keywarden.selectorLabels" (dict "ctx" .ctx "component" .component) | nindent 10 }}
{{- else }}
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "keywarden.selectorLabels" (dict "ctx" .ctx "component" .component) | nindent 12 }}
{{- end }}
{{- end }}

{{/* Restricted pod security for every container the chart runs. */}}
{{- define "keywarden.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "keywarden.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Sanity checks that a schema cannot express. */}}
{{- define "keywarden.validate" -}}
{{- if and (not .Values.controller.leaderElection.enabled) (gt (int .Values.controller.replicas) 1) }}
{{- fail "controller.replicas > 1 needs controller.leaderElection.enabled: two controllers without a lease would both act" }}
{{- end }}
{{- range (include "keywarden.validator.namespaces" . | fromJsonArray) }}
{{- if eq .name $.Release.Namespace }}
{{- fail (printf "validator.namespaces must not contain the release namespace %s: the one-time delivery Secrets (plaintext keys) live there" $.Release.Namespace) }}
{{- end }}
{{- if .serviceAccounts }}
{{- fail (printf "validator.namespaces[%s].serviceAccounts: injected sidecars no longer run as the pod's own account (the app container shares it): they get the %s account's token, mounted into the sidecar only. Remove serviceAccounts; standalone validators run as %s" .name $.Values.validator.serviceAccount.name $.Values.validator.serviceAccount.name) }}
{{- end }}
{{- end }}
{{- if dig "subjects" nil (.Values.reveal | default dict) }}
{{- fail "reveal.subjects is gone: kubectl keywarden reveal no longer reads the release namespace. Whoever may patch an ApiKey (the edit role) may reveal it; the key arrives sealed to a one-time key of the CLI" }}
{{- end }}
{{- if .Values.validator.signingKeySecret }}
{{- fail "validator.signingKeySecret is gone: one signing key Secret in one namespace readable by every validator let any app container forge identities for every service. Create a key per namespace instead (keywarden validator signing-key -n NS --name keywarden-validator-jwt), named by injection.jwt.signingKeySecret; it is mounted into the sidecar only" }}
{{- end }}
{{- end }}

{{/* The injector's settings file (src/injector/config.ts checks it when the webhook starts). */}}
{{- define "keywarden.injectorConfig" -}}
{{- $i := .Values.injection -}}
{{- $namespaces := list -}}
{{- range (include "keywarden.validator.namespaces" . | fromJsonArray) }}{{ $namespaces = append $namespaces .name }}{{ end -}}
{{- $cfg := dict
  "image" (include "keywarden.image" .)
  "imagePullPolicy" .Values.image.pullPolicy
  "port" $i.port
  "adminPort" $i.adminPort
  "internalPort" $i.internalPort
  "routesKey" $i.routesKey
  "resources" $i.resources
  "trustedProxies" $i.trustedProxies
  "unmappedRoutes" $i.unmappedRoutes
  "allowImageOverride" $i.allowImageOverride
  "logLevel" $i.logLevel
  "validatorSettings" $i.validatorSettings
  "recordKeys" (dict "namespace" .Release.Namespace "name" "keywarden-record-keys")
  "credentialsSecret" (include "keywarden.validator.tokenSecretName" .)
  "jwtSigningKeySecret" (dict "name" $i.jwt.signingKeySecret "key" "signing-key.pem")
  "jwtAudiences" $i.jwt.audiences
  "namespaces" $namespaces
-}}
{{- toYaml $cfg }}
{{- end }}

{{/* What both ApiKey webhooks share (src/webhook/configurations.ts: entry()). */}}
{{- define "keywarden.apikeyRules" -}}
rules:
  - apiGroups: [keywarden.dev]
    apiVersions: [v1alpha1]
    operations: [CREATE, UPDATE]
    resources: [apikeys]
    scope: Namespaced
admissionReviewVersions: [v1]
sideEffects: None
failurePolicy: Fail
matchPolicy: Equivalent
{{- end }}

{{/* A component's --admin-port: `healthPort` (its former value name) wins when a user still sets it. */}}
{{- define "keywarden.adminPort" -}}
{{- .healthPort | default .adminPort -}}
{{- end }}

{{/*
Names, labels and the pieces shared by the Deployments and the topics Job.
Per-service helpers take a dict: (dict "root" $ "service" "<name>").
*/}}

{{- define "ticketstream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name; a release called "ticketstream" is not doubled. */}}
{{- define "ticketstream.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ticketstream.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of a service's Deployment, Service and HPA: <fullname>-<service>. */}}
{{- define "ticketstream.componentName" -}}
{{- printf "%s-%s" (include "ticketstream.fullname" .root) .service | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ticketstream.commonLabels" -}}
helm.sh/chart: {{ include "ticketstream.chart" . }}
app.kubernetes.io/name: {{ include "ticketstream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: ticketstream
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels of a service's objects. */}}
{{- define "ticketstream.labels" -}}
{{ include "ticketstream.commonLabels" .root }}
app.kubernetes.io/component: {{ .service }}
{{- end }}

{{/* The immutable subset used in selectors: never add to it, Deployments would need recreating. */}}
{{- define "ticketstream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ticketstream.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .service }}
{{- end }}

{{/* <repositoryPrefix>/ticketstream-<service>:<tag> (no prefix: a local image). */}}
{{- define "ticketstream.image" -}}
{{- $image := .root.Values.image }}
{{- $tag := default .root.Chart.AppVersion $image.tag }}
{{- if $image.repositoryPrefix }}
{{- printf "%s/ticketstream-%s:%s" (trimSuffix "/" $image.repositoryPrefix) .service $tag }}
{{- else }}
{{- printf "ticketstream-%s:%s" .service $tag }}
{{- end }}
{{- end }}

{{- define "ticketstream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ticketstream.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ticketstream.configMapName" -}}
{{- printf "%s-config" (include "ticketstream.fullname" .) }}
{{- end }}

{{- define "ticketstream.secretName" -}}
{{- default (printf "%s-secret" (include "ticketstream.fullname" .)) .Values.secret.existingSecret }}
{{- end }}

{{/*
An environment value as a quoted string. Numbers arrive from YAML/JSON as float64 and would
otherwise print as 2.62144e+07; every numeric setting is an integer.
*/}}
{{- define "ticketstream.envValue" -}}
{{- if or (kindIs "float64" .) (kindIs "int" .) (kindIs "int64" .) }}
{{- . | int64 | toString | quote }}
{{- else }}
{{- . | toString | quote }}
{{- end }}
{{- end }}

{{/*
Pod-level hardening shared by every pod of the chart. The uid/gid are the ones the Dockerfile
creates; runAsNonRoot can only be enforced for a numeric user.
*/}}
{{- define "ticketstream.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "ticketstream.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
    - ALL
{{- end }}

{{/*
Pod-spec fields shared by the Deployments and the Job.
enableServiceLinks is off on purpose: Kubernetes would otherwise inject variables such as
TICKETSTREAM_TICKETS_PORT=tcp://10.0.0.7:8082 for the Service "ticketstream-tickets", which
collide with the TICKETSTREAM_<SERVICE>_PORT settings and stop every pod at start-up.
*/}}
{{- define "ticketstream.podDefaults" -}}
enableServiceLinks: false
automountServiceAccountToken: false
securityContext:
  {{- include "ticketstream.podSecurityContext" . | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

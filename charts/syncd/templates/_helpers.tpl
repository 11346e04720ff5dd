{{/* Chart name, at most 63 characters. */}}
{{- define "syncd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Prefix of object names: fullnameOverride, else <release>-<name>, or the release name when it contains the name. */}}
{{- define "syncd.fullname" -}}
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

{{/* Labels on every object. Never syncd.dev/site: syncd treats objects with that label as managed. */}}
{{- define "syncd.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "syncd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of the Deployment and the Service. */}}
{{- define "syncd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "syncd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The ServiceAccount syncd runs as. */}}
{{- define "syncd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "syncd.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* --namespace: where syncd keeps inventories, status, Conflicts and its Lease. */}}
{{- define "syncd.stateNamespace" -}}
{{- default .Release.Namespace .Values.stateNamespace }}
{{- end }}

{{/* The Secret holding the deploy key and known_hosts. */}}
{{- define "syncd.gitSecretName" -}}
{{- default (printf "%s-git" (include "syncd.fullname" .)) .Values.git.existingSecret }}
{{- end }}

{{/* Whether --known-hosts is given: the chart's Secret has known_hosts, or an existing Secret is expected to unless host keys are not checked. */}}
{{- define "syncd.hasKnownHosts" -}}
{{- if .Values.git.existingSecret }}
{{- if not .Values.git.insecureSkipHostKeyCheck }}true{{ end }}
{{- else if .Values.git.knownHosts }}true{{ end }}
{{- end }}

{{/* Whether --passphrase-file is given. */}}
{{- define "syncd.hasPassphrase" -}}
{{- if .Values.git.existingSecret }}
{{- if .Values.git.existingSecretHasPassphrase }}true{{ end }}
{{- else if .Values.git.passphrase }}true{{ end }}
{{- end }}

{{/* The Secret holding the webhook secret, empty when there is no webhook. */}}
{{- define "syncd.webhookSecretName" -}}
{{- if .Values.webhook.existingSecret }}
{{- .Values.webhook.existingSecret }}
{{- else if .Values.webhook.secret }}
{{- printf "%s-webhook" (include "syncd.fullname" .) }}
{{- end }}
{{- end }}

{{/* Whether --leader-elect is given: asked for, or needed by more than one replica. */}}
{{- define "syncd.leaderElect" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicas) 1) }}true{{ end }}
{{- end }}

{{/* The image reference: repository@digest, else repository:tag (appVersion by default). */}}
{{- define "syncd.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Fails on values that would give a syncd that cannot start; renders nothing. */}}
{{- define "syncd.validate" -}}
{{- $_ := required "site is required: the site this syncd serves, sites/<site>/site.yaml in the fleet repo (--set site=NAME)" .Values.site }}
{{- $_ := required "repo.url is required: the fleet repo, ssh://git@host/path.git or git@host:path.git (--set repo.url=URL)" .Values.repo.url }}
{{- if not (has .Values.logFormat (list "text" "json")) }}
{{- fail (printf "logFormat %q: want text or json" .Values.logFormat) }}
{{- end }}
{{- if not .Values.git.existingSecret }}
{{- $_ := required "git.identity is required: the deploy key's private key (--set-file git.identity=./key/identity from `syncd keygen --out ./key`), or name a Secret in git.existingSecret" .Values.git.identity }}
{{- if not .Values.git.insecureSkipHostKeyCheck }}
{{- $_ := required "git.knownHosts is required: the Git server's known_hosts line(s) (`syncd known-hosts HOST` prints one; --set-file git.knownHosts=FILE), or name a Secret in git.existingSecret" .Values.git.knownHosts }}
{{- end }}
{{- end }}
{{- end }}

{{/* Whether the chart makes the supply-chain Secret <fullname>-trust (SPEC §7). */}}
{{- define "syncd.hasTrust" -}}
{{- if or .Values.trust.allowedSigners .Values.trust.signingKey .Values.trust.registryCredentials .Values.statusRepo.identity }}true{{ end }}
{{- end }}

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
{{- if .Values.trust.existingSecret }}
{{- if not .Values.trust.existingSecretKeys }}
{{- fail (printf "trust.existingSecretKeys is required with trust.existingSecret: list the files Secret %s holds, of allowed_signers, signing_key, registry-config.json, status_identity (each one passes its flag)" .Values.trust.existingSecret) }}
{{- end }}
{{- $inline := dict "trust.allowedSigners" .Values.trust.allowedSigners "trust.signingKey" .Values.trust.signingKey "trust.registryCredentials" .Values.trust.registryCredentials "statusRepo.identity" .Values.statusRepo.identity }}
{{- $file := dict "trust.allowedSigners" "allowed_signers" "trust.signingKey" "signing_key" "trust.registryCredentials" "registry-config.json" "statusRepo.identity" "status_identity" }}
{{- range $value := keys $inline | sortAlpha }}
{{- if get $inline $value }}
{{- fail (printf "%s is set with trust.existingSecret: put it in Secret %s as the key %s (listed in trust.existingSecretKeys) instead" $value $.Values.trust.existingSecret (get $file $value)) }}
{{- end }}
{{- end }}
{{- end }}
{{- if not .Values.git.existingSecret }}
{{- $_ := required "git.identity is required: the deploy key's private key (--set-file git.identity=./key/identity from `syncd keygen --out ./key`), or name a Secret in git.existingSecret" .Values.git.identity }}
{{- if not .Values.git.insecureSkipHostKeyCheck }}
{{- $_ := required "git.knownHosts is required: the Git server's known_hosts line(s) (`syncd known-hosts HOST` prints one; --set-file git.knownHosts=FILE), or name a Secret in git.existingSecret" .Values.git.knownHosts }}
{{- end }}
{{- end }}
{{- end }}

{{/* The files of the supply-chain Secret (SPEC §7) as a JSON list: those trust.existingSecretKeys names when trust.existingSecret is set, else one per supply-chain value given. Each file passes its flag. */}}
{{- define "syncd.trustFiles" -}}
{{- $files := list }}
{{- if .Values.trust.existingSecret }}
{{- $files = .Values.trust.existingSecretKeys }}
{{- else }}
{{- if .Values.trust.allowedSigners }}{{ $files = append $files "allowed_signers" }}{{ end }}
{{- if .Values.trust.signingKey }}{{ $files = append $files "signing_key" }}{{ end }}
{{- if .Values.trust.registryCredentials }}{{ $files = append $files "registry-config.json" }}{{ end }}
{{- if .Values.statusRepo.identity }}{{ $files = append $files "status_identity" }}{{ end }}
{{- end }}
{{- toJson $files }}
{{- end }}

{{/* Whether a supply-chain Secret is mounted under /etc/syncd/trust. */}}
{{- define "syncd.hasTrust" -}}
{{- if include "syncd.trustFiles" . | fromJsonArray }}true{{ end }}
{{- end }}

{{/* The supply-chain Secret: trust.existingSecret, else the chart's <fullname>-trust. */}}
{{- define "syncd.trustSecretName" -}}
{{- default (printf "%s-trust" (include "syncd.fullname" .)) .Values.trust.existingSecret }}
{{- end }}

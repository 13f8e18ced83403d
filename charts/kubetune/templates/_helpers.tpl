{{- define "kubetune.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "kubetune.labels" -}}
app.kubernetes.io/name: kubetune
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kubetune.selectorLabels" -}}
app.kubernetes.io/name: kubetune
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kubetune.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "kubetune.fullname" .) .Values.serviceAccount.name }}
{{- else -}}{{ default "default" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{/* Exactly what the operator calls; tests/e2e run the operator with this role and nothing more. */}}
{{- define "kubetune.rules" -}}
- apiGroups: [kubetune.dev]
  resources: [trainingjobs, finetunedmodels, modelcomparisons]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [kubetune.dev]
  resources: [trainingjobs/status, finetunedmodels/status, modelcomparisons/status]
  verbs: [get, patch, update]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, create, delete]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, create, patch, delete]
- apiGroups: [""]
  resources: [services]
  verbs: [get, create, delete]
- apiGroups: [""]
  resources: [secrets, persistentvolumeclaims]
  verbs: [get]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, patch]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch, list]
{{- end -}}

{{- define "kubetune.image" -}}
{{ printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) | quote }}
{{- end -}}

{{- define "kubetune.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The operator image runs as this non-root user (images/operator/Dockerfile). */}}
{{- define "kubetune.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{- define "kubetune.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: {drop: [ALL]}
{{- end -}}

{{/* Namespaces the hook Jobs clean up: the watched ones, or every one. */}}
{{- define "kubetune.purgeScope" -}}
{{- if .Values.watchNamespaces }}
{{- range .Values.watchNamespaces }}
- --namespace={{ . }}
{{- end }}
{{- else }}
- --all-namespaces
{{- end }}
{{- end -}}

{{- define "kubetune.postgresqlName" -}}
{{ include "kubetune.fullname" . }}-postgresql
{{- end -}}

{{- define "kubetune.postgresqlSecret" -}}
{{ .Values.postgresql.auth.existingSecret | default (include "kubetune.postgresqlName" .) }}
{{- end -}}

{{/*
KUBETUNE_DATABASE_URL for the Postgres mirror: from database.existingSecret, else built from the bundled PostgreSQL's
generated password ($(VAR) references expand from variables defined before them). Nothing when there is no database.
*/}}
{{/* "true" when no database is configured: the mirror is SQLite on the state claim. */}}
{{- define "kubetune.embeddedDatabase" -}}
{{- if not (or .Values.database.existingSecret.name .Values.postgresql.enabled) }}true{{- end }}
{{- end -}}

{{- define "kubetune.databaseEnv" -}}
{{- if .Values.database.existingSecret.name }}
- name: KUBETUNE_DATABASE_URL
  valueFrom: {secretKeyRef: {name: {{ .Values.database.existingSecret.name }}, key: {{ .Values.database.existingSecret.key }}}}
{{- else if .Values.postgresql.enabled }}
- name: KUBETUNE_DATABASE_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ include "kubetune.postgresqlSecret" . }}, key: password}}
- name: KUBETUNE_DATABASE_URL
  value: "postgresql://{{ .Values.postgresql.auth.username }}:$(KUBETUNE_DATABASE_PASSWORD)@{{ include "kubetune.postgresqlName" . }}.{{ .Release.Namespace }}.svc:5432/{{ .Values.postgresql.auth.database }}"
{{- end }}
{{- end -}}

{{/* A hook Job running `kubetune <args>` from the operator image as the hooks' ServiceAccount. */}}
{{- define "kubetune.hookJob" -}}
{{- $root := .root }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .name }}
  namespace: {{ $root.Release.Namespace }}
  labels: {{- include "kubetune.labels" $root | nindent 4 }}
  annotations:
    helm.sh/hook: {{ .events }}
    helm.sh/hook-weight: "0"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: 2
  activeDeadlineSeconds: {{ .deadline }}
  template:
    metadata:
      labels: {{- include "kubetune.selectorLabels" $root | nindent 8 }}
        app.kubernetes.io/component: hook
    spec:
      restartPolicy: Never
      serviceAccountName: {{ include "kubetune.fullname" $root }}-hooks
      {{- include "kubetune.imagePullSecrets" $root | nindent 6 }}
      securityContext: {{- include "kubetune.podSecurityContext" $root | nindent 8 }}
      {{- with $root.Values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      containers:
      - name: kubetune
        image: {{ include "kubetune.image" $root }}
        imagePullPolicy: {{ $root.Values.image.pullPolicy }}
        command: [kubetune]
        args: {{- .args | toYaml | nindent 8 }}
        {{- if has "purge" .args }}
        {{- include "kubetune.purgeScope" $root | nindent 8 }}
        {{- end }}
        resources: {{- toYaml $root.Values.hooks.resources | nindent 10 }}
        securityContext: {{- include "kubetune.containerSecurityContext" $root | nindent 10 }}
        volumeMounts: [{name: tmp, mountPath: /tmp}]
      volumes: [{name: tmp, emptyDir: {}}]
      {{- with $root.Values.nodeSelector }}
      nodeSelector: {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.tolerations }}
      tolerations: {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}

{{- define "kubetune.dashboardName" -}}
{{ include "kubetune.fullname" . }}-dashboard
{{- end -}}

{{/* "true" when the dashboard runs beside the operator on its embedded SQLite file (no database configured). */}}
{{- define "kubetune.dashboardSidecar" -}}
{{- if and .Values.dashboard.enabled (not (or .Values.database.existingSecret.name .Values.postgresql.enabled)) -}}
true
{{- end -}}
{{- end -}}

{{/* Where the operator keeps its embedded SQLite mirror when the dashboard sits beside it. */}}
{{- define "kubetune.stateDir" -}}/var/lib/kubetune{{- end -}}

{{/* The dashboard's container: in its own Deployment, or beside the operator (then reading the shared state). */}}
{{- define "kubetune.dashboardContainer" -}}
{{- $sidecar := include "kubetune.dashboardSidecar" . }}
{{- $actions := .Values.dashboard.actions.enabled }}
- name: dashboard
  image: {{ include "kubetune.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: [kubetune, dashboard]
  args:
  - --address=0.0.0.0
  - --port={{ .Values.dashboard.port }}
  - --refresh={{ .Values.dashboard.refreshSeconds }}
  {{- if $actions }}
  - --actions
  - --token-file=/var/run/kubetune/dashboard/token
  {{- else if not .Values.dashboard.events }}
  - --no-cluster
  {{- end }}
  env:
  {{- if $sidecar }}
  - {name: KUBETUNE_STATE_DIR, value: {{ include "kubetune.stateDir" . }}}
  {{- else }}
  {{- include "kubetune.databaseEnv" . | nindent 2 }}
  {{- end }}
  ports:
  - {name: dashboard, containerPort: {{ .Values.dashboard.port }}}
  # Ready only when the mirror answers with its tables: beside a standby operator there is no file yet.
  readinessProbe:
    httpGet: {path: /readyz, port: dashboard}
    periodSeconds: 10
  livenessProbe:
    httpGet: {path: /healthz, port: dashboard}
    periodSeconds: 20
    failureThreshold: 3
  resources: {{- toYaml .Values.dashboard.resources | nindent 4 }}
  securityContext: {{- include "kubetune.containerSecurityContext" . | nindent 4 }}
  volumeMounts:
  - {name: dashboard-tmp, mountPath: /tmp}
  {{- if $actions }}
  - {name: dashboard-token, mountPath: /var/run/kubetune/dashboard, readOnly: true}
  {{- end }}
  {{- if $sidecar }}
  # Writable mount, read-only use: SQLite's WAL readers share the -shm index file with the writer for locking;
  # the dashboard opens the database itself with mode=ro and query_only.
  - {name: state, mountPath: {{ include "kubetune.stateDir" . }}}
  {{- if or $actions .Values.dashboard.events }}
  - {name: dashboard-account, mountPath: /var/run/secrets/kubernetes.io/serviceaccount, readOnly: true}
  {{- end }}
  {{- end }}
{{- end -}}

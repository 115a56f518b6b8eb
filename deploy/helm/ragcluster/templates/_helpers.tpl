{{/* Names and labels shared by every object. */}}
{{- define "ragcluster.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end }}

{{- define "ragcluster.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "ragcluster.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ragcluster.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end }}

{{- define "ragcluster.secretName" -}}
{{- printf "%s-secrets" (include "ragcluster.fullname" .) -}}
{{- end }}

{{/* The DSN comes from an existing Secret or from the chart's Secret (external dsn or the bundled PostgreSQL). */}}
{{- define "ragcluster.dsnSecretName" -}}
{{- if .Values.database.existingSecret -}}{{ .Values.database.existingSecret }}{{- else -}}{{ include "ragcluster.secretName" . }}{{- end -}}
{{- end }}

{{- define "ragcluster.dsnSecretKey" -}}
{{- if .Values.database.existingSecret -}}{{ .Values.database.existingSecretKey }}{{- else -}}dsn{{- end -}}
{{- end }}

{{/* Environment every silo (API pods included) gets: configuration from the ConfigMap, secrets by reference. */}}
{{- define "ragcluster.env" -}}
- name: Silo__Storage
  valueFrom:
    secretKeyRef:
      name: {{ include "ragcluster.dsnSecretName" . }}
      key: {{ include "ragcluster.dsnSecretKey" . }}
- name: Silo__Redis
  valueFrom:
    secretKeyRef:
      name: {{ .Values.clustering.existingSecret | default (include "ragcluster.secretName" .) }}
      key: {{ if .Values.clustering.existingSecret }}{{ .Values.clustering.existingSecretKey }}{{ else }}redis{{ end }}
- name: Auth__BootstrapAdminKey
  valueFrom:
    secretKeyRef:
      name: {{ .Values.auth.existingSecret | default (include "ragcluster.secretName" .) }}
      key: {{ if .Values.auth.existingSecret }}{{ .Values.auth.existingSecretKey }}{{ else }}bootstrap-admin-key{{ end }}
      optional: true
{{- if .Values.auth.jwt.signingKey }}
- name: Auth__Jwt__SigningKey
  valueFrom:
    secretKeyRef:
      name: {{ include "ragcluster.secretName" . }}
      key: jwt-signing-key
{{- end }}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
{{- end }}

{{/* With dedicated embedding silos, the other silos (API pods included) offer no role: they never run the model. */}}
{{- define "ragcluster.rolesWithoutEmbedding" -}}
{{- if .Values.embeddingSilos.enabled }}
- name: Silo__Roles
  value: "none"
{{- end }}
{{- end }}

{{- define "ragcluster.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.models.existingClaim }}
- name: models
  mountPath: {{ .Values.models.mountPath }}
  readOnly: true
{{- end }}
{{- if .Values.tls.enabled }}
- name: tls
  mountPath: {{ .Values.tls.mountPath }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "ragcluster.volumes" -}}
- name: tmp
  emptyDir: {}
{{- if .Values.models.existingClaim }}
- name: models
  persistentVolumeClaim:
    claimName: {{ .Values.models.existingClaim }}
    readOnly: true
{{- end }}
{{- if .Values.tls.enabled }}
- name: tls
  secret:
    secretName: {{ include "ragcluster.tlsSecretName" . }}
{{- end }}
{{- end }}

{{/* The Secret with the silos' certificate: the one named, or the one the chart's cert-manager Certificate writes. */}}
{{- define "ragcluster.tlsSecretName" -}}
{{- if .Values.tls.secretName }}{{ .Values.tls.secretName }}{{ else }}{{ if .Values.tls.certManager.enabled }}{{ include "ragcluster.fullname" . }}-tls{{ else }}{{ required "tls.enabled needs tls.secretName (a Secret with tls.crt, tls.key and ca.crt) or tls.certManager.enabled" .Values.tls.secretName }}{{ end }}{{ end -}}
{{- end }}

{{/*
The PostgreSQL connection budget: every pod that runs a silo (silos and API pods, at their autoscalers' maximum when
on) opens a pool of up to Silo:StoragePoolSize connections, and together they must fit in max_connections minus a
reserve. database.poolSize set: checked against that; empty: derived from it. Past a few dozen pods, put PgBouncer
(transaction pooling) in front of PostgreSQL and give maxConnections as PgBouncer's pool.
*/}}
{{- define "ragcluster.maxSiloPods" -}}
{{- if .Values.silo.autoscaling.enabled }}{{ .Values.silo.autoscaling.maxReplicas }}{{ else }}{{ .Values.silo.replicas }}{{ end -}}
{{- end }}

{{- define "ragcluster.maxApiPods" -}}
{{- if .Values.api.autoscaling.enabled }}{{ .Values.api.autoscaling.maxReplicas }}{{ else }}{{ .Values.api.replicas }}{{ end -}}
{{- end }}

{{- define "ragcluster.maxEmbeddingPods" -}}
{{- if .Values.embeddingSilos.enabled }}{{ .Values.embeddingSilos.replicas }}{{ else }}0{{ end -}}
{{- end }}

{{- define "ragcluster.storagePods" -}}
{{- add (include "ragcluster.maxSiloPods" .) (include "ragcluster.maxApiPods" .) (include "ragcluster.maxEmbeddingPods" .) -}}
{{- end }}

{{- define "ragcluster.storagePoolSize" -}}
{{- if .Values.database.poolSize }}
{{- if gt (mul .Values.database.poolSize (include "ragcluster.storagePods" .)) (sub .Values.database.maxConnections .Values.database.reservedConnections) }}
{{- fail (printf "database.poolSize %v x %v pods (silos and API pods at their maximum) = %v connections, more than database.maxConnections %v minus database.reservedConnections %v: lower poolSize or the replica maxima, raise max_connections, or put PgBouncer in front" .Values.database.poolSize (include "ragcluster.storagePods" .) (mul .Values.database.poolSize (include "ragcluster.storagePods" .)) .Values.database.maxConnections .Values.database.reservedConnections) }}
{{- end }}
{{- .Values.database.poolSize }}
{{- else }}
{{- if lt (div (sub .Values.database.maxConnections .Values.database.reservedConnections) (include "ragcluster.storagePods" .)) 2 }}
{{- fail (printf "database.maxConnections %v minus database.reservedConnections %v leaves fewer than 2 connections for each of %v pods (silos and API pods at their maximum): raise max_connections, lower the replica maxima, or put PgBouncer in front" .Values.database.maxConnections .Values.database.reservedConnections (include "ragcluster.storagePods" .)) }}
{{- end }}
{{- div (sub .Values.database.maxConnections .Values.database.reservedConnections) (include "ragcluster.storagePods" .) }}
{{- end }}
{{- end }}

{{/* Orleans' Kubernetes hosting (kubernetesHosting.enabled): the labels its agents select a release's silo pods by. */}}
{{- define "ragcluster.orleansLabels" -}}
{{- if .Values.kubernetesHosting.enabled }}
orleans/clusterId: {{ .Values.cluster.id | quote }}
orleans/serviceId: {{ .Values.cluster.serviceId | default .Values.cluster.id | quote }}
{{- end }}
{{- end }}

{{/* The service account that may watch the release's pods (templates/rbac.yaml), when Kubernetes hosting is on. */}}
{{- define "ragcluster.serviceAccount" -}}
{{- if .Values.kubernetesHosting.enabled }}
serviceAccountName: {{ include "ragcluster.fullname" . }}-silo
{{- end }}
{{- end }}

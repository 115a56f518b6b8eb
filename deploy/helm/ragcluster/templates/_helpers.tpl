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

{{- define "ragcluster.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.models.existingClaim }}
- name: models
  mountPath: {{ .Values.models.mountPath }}
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
{{- end }}

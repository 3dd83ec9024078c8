{{- define "quantgate.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "quantgate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "quantgate.labels" -}}
app.kubernetes.io/name: {{ include "quantgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "quantgate.selector" -}}
app.kubernetes.io/name: {{ include "quantgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "quantgate.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "quantgate.secretName" -}}
{{- default (printf "%s-secrets" (include "quantgate.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "quantgate.env" -}}
- name: QUANTGATE_ADMIN_TOKEN
  valueFrom: {secretKeyRef: {name: {{ include "quantgate.secretName" . }}, key: admin-token}}
- name: QUANTGATE_FLAG_STORE_URL
  valueFrom: {secretKeyRef: {name: {{ include "quantgate.secretName" . }}, key: database-url}}
- name: QUANTGATE_FEEDBACK__KEYS
  valueFrom: {secretKeyRef: {name: {{ include "quantgate.secretName" . }}, key: feedback-keys, optional: true}}
- name: QUANTGATE_CONFIG_FILE
  value: /etc/quantgate/quantgate.yaml
{{- end -}}

{{- define "wadm-ts.name" -}}{{ .Chart.Name }}{{- end -}}
{{- define "wadm-ts.fullname" -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- define "wadm-ts.selector" -}}
app.kubernetes.io/name: {{ include "wadm-ts.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "wadm-ts.labels" -}}
{{ include "wadm-ts.selector" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

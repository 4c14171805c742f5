{{/* The name of every object of this release. */}}
{{- define "portier.fullname" -}}
{{- printf "%s-portier" .Release.Name -}}
{{- end -}}

{{/* Labels that select this release's pods. */}}
{{- define "portier.selector" -}}
app.kubernetes.io/name: portier
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end -}}

{{/* The host of the external URL (the probes' Host header). */}}
{{- define "portier.host" -}}
{{- regexReplaceAll ":[0-9]+$" (regexReplaceAll "/.*$" (trimPrefix "https://" .Values.externalURL) "") "" -}}
{{- end -}}

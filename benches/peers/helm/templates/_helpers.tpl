{{/* Labels every object of a team carries. Context: dict "root" $ "team" $team */}}
{{- define "nbgen.labels" -}}
app.kubernetes.io/managed-by: nbgen
app.kubernetes.io/part-of: {{ .root.Values.env }}
nbgen.io/team: {{ .team.name }}
{{- end }}

{{/* Labels of a server's objects. Context: dict "root" $ "team" $team "server" $s */}}
{{- define "nbgen.serverLabels" -}}
app.kubernetes.io/component: notebook
{{ include "nbgen.labels" . }}
nbgen.io/role: {{ .server.role }}
nbgen.io/server: {{ .server.name }}
{{- end }}

{{- define "nbgen.keepData" -}}
annotations:
  argocd.argoproj.io/sync-options: Prune=false,Delete=false
{{- end }}

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

{{/* Every member and group of a team, as RoleBinding subjects (groups first). Context: $team */}}
{{- define "nbgen.everyone" }}
{{- range .groups }}
- apiGroup: rbac.authorization.k8s.io
  kind: Group
  name: {{ . }}
{{- end }}
{{- range .members }}
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: {{ . }}
{{- end }}
{{- end }}

{{/* What a member may do with these servers, by name only. Context: list of {name, pod, tokenSecret} */}}
{{- define "nbgen.serverRules" }}
{{- $servers := . }}
{{- range $res := list "pods/exec" "pods/log" "pods" }}
- apiGroups: [""]
  resourceNames:
  {{- range $servers }}
  - {{ .pod }}
  {{- end }}
  {{- if eq $res "pods/exec" }}
  resources: [pods/attach, pods/exec, pods/portforward]
  verbs: [create, get]
  {{- else if eq $res "pods/log" }}
  resources: [pods/log]
  verbs: [get]
  {{- else }}
  resources: [pods]
  verbs: [delete]
  {{- end }}
{{- end }}
- apiGroups: [""]
  resourceNames:
  {{- range $servers }}
  - {{ .tokenSecret }}
  {{- end }}
  resources: [secrets]
  verbs: [get]
- apiGroups: [apps]
  resourceNames:
  {{- range $servers }}
  - {{ .name }}
  {{- end }}
  resources: [statefulsets/scale]
  verbs: [get, patch, update]
{{- end }}

{{/* Pods in a namespace, as a NetworkPolicy peer. Context: {namespace, podSelector} */}}
{{- define "nbgen.pods" -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .namespace }}
  podSelector:
    {{- if .podSelector }}
    matchLabels:
      {{- toYaml .podSelector | nindent 6 }}
    {{- else }} {}
    {{- end }}
{{- end }}

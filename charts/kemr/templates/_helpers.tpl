{{/* Names and labels shared by every object of the release. */}}

{{- define "kemr.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: "kemr" for a release named kemr (or kemr-*), else "<release>-kemr". */}}
{{- define "kemr.fullname" -}}
{{- if hasPrefix .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kemr.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kemr.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "kemr.labels" -}}
{{ include "kemr.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: kemr
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "kemr.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kemr.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kemr.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The operator's configuration file: the values' config, with operatorPeer defaulting to this release's
operator pods (so clusters' NetworkPolicies let the operator reach their Spark master). */}}
{{- define "kemr.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- if not (hasKey $config "operatorPeer") -}}
{{- $peer := dict
      "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" .Release.Namespace))
      "podSelector" (dict "matchLabels" (include "kemr.selectorLabels" . | fromYaml)) -}}
{{- $_ := set $config "operatorPeer" $peer -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{- /* The operator's rules in a namespace it watches. Exactly what the operator sends (operator/kemr/apply, controllers/, and kopf's watches): no wildcards,
Secrets: create (a DataCatalog's generated database password) and get (an EMRNotebook's token, to read its kernels' activity; names are the users', so no resourceNames), never list or watch; no get where a watch cache answers. Children are written by server-side apply (patch, and create
when the object is new) and pruned (delete); pods are created and deleted (step drivers) and patched (pod-deletion-cost of task pods); volume claims are
deleted with their cluster. The finalizers subresources are needed where the OwnerReferencesPermissionEnforcement
admission plugin is on (e.g. OpenShift): children point at their EMRCluster/EMRStep/EMRNotebook with blockOwnerDeletion. */}}
{{- define "kemr.rules" -}}
- apiGroups: [kemr.io]
  resources: [emrclusters]
  verbs: [list, watch]
- apiGroups: [kemr.io]
  resources: [emrsteps]
  verbs: [list, watch, create, patch]
- apiGroups: [kemr.io]
  resources: [datacatalogs]
  verbs: [list, watch, patch]
- apiGroups: [kemr.io]
  resources: [emrnotebooks]
  verbs: [list, watch]
- apiGroups: [kemr.io]
  resources: [emrclusters/status, emrsteps/status, datacatalogs/status, emrnotebooks/status]
  verbs: [patch]
- apiGroups: [kemr.io]
  resources: [emrclusters/finalizers, emrsteps/finalizers, datacatalogs/finalizers, emrnotebooks/finalizers]
  verbs: [update]
# A DataCatalog's in-cluster database credentials: generated once, never read back or changed. An EMRNotebook's
# token: read (get, one Secret by name) to poll its Jupyter server's kernels; never listed or watched.
- apiGroups: [""]
  resources: [secrets]
  verbs: [create, get]
- apiGroups: [""]
  resources: [configmaps, services, serviceaccounts]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [apps]
  resources: [statefulsets, deployments]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [list, watch, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end }}

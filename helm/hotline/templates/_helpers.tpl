{{/*
Names, labels and the per-service values every template shares.
*/}}

{{- define "hotline.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's full name; component names append "-<service>", so it is kept to 53
characters to leave room for the longest suffix ("-recording", "-analytics").
*/}}
{{- define "hotline.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 53 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 53 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 53 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "<full name>-<service>". Argument: dict "root" $ "name" <service>. */}}
{{- define "hotline.componentName" -}}
{{- printf "%s-%s" (include "hotline.fullname" .root) .name }}
{{- end }}

{{- define "hotline.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. Argument: dict "root" $ and optionally "name" <service>. */}}
{{- define "hotline.labels" -}}
helm.sh/chart: {{ include "hotline.chart" .root }}
{{ include "hotline.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: hotline
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels. Argument: dict "root" $ and optionally "name" <service>. */}}
{{- define "hotline.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hotline.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}
{{- end }}

{{/*
A service's values: serviceDefaults overlaid with services.<name>. A map-valued key
(resources, probes, autoscaling, podDisruptionBudget, …) is merged one level deep, so
`services.crm.autoscaling.maxReplicas` keeps the default's other autoscaling keys; any
other key replaces the default's. Returned as YAML (use with fromYaml).
Argument: dict "root" $ "name" <service>.
*/}}
{{- define "hotline.serviceValues" -}}
{{- $out := deepCopy .root.Values.serviceDefaults }}
{{- range $k, $v := index .root.Values.services .name }}
{{- $d := index $out $k }}
{{- if and (kindIs "map" $v) (kindIs "map" $d) }}
{{- $m := deepCopy $d }}
{{- range $k2, $v2 := $v }}
{{- $_ := set $m $k2 $v2 }}
{{- end }}
{{- $_ := set $out $k $m }}
{{- else }}
{{- $_ := set $out $k $v }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/* The enabled services' names, sorted, as a YAML list (use with fromYamlArray). */}}
{{- define "hotline.enabledServices" -}}
{{- $out := list }}
{{- range $name := keys .Values.services | sortAlpha }}
{{- if (index $.Values.services $name).enabled }}
{{- $out = append $out $name }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/*
Name of the port serving /healthz, /readyz and /metrics: "http" for the api (its public
HTTP port), "ops" for the others. Argument: the service's values.
*/}}
{{- define "hotline.opsPortName" -}}
{{- if .httpPort }}http{{ else }}ops{{ end }}
{{- end }}

{{/* Its number. Argument: the service's values. */}}
{{- define "hotline.opsPort" -}}
{{- if .httpPort }}{{ int .httpPort }}{{ else }}{{ int .opsPort }}{{ end }}
{{- end }}

{{- define "hotline.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}
{{- end }}

{{/* ServiceAccount of a service. Argument: dict "root" $ "name" <service>. */}}
{{- define "hotline.serviceAccountName" -}}
{{- if eq .name "operator" }}
{{- $sa := .root.Values.operatorServiceAccount }}
{{- if $sa.create }}{{ default (printf "%s-operator" (include "hotline.fullname" .root)) $sa.name }}{{ else }}{{ default "default" $sa.name }}{{ end }}
{{- else }}
{{- $sa := .root.Values.serviceAccount }}
{{- if $sa.create }}{{ default (include "hotline.fullname" .root) $sa.name }}{{ else }}{{ default "default" $sa.name }}{{ end }}
{{- end }}
{{- end }}

{{/* The operator's view of the api: operator.apiEndpoint or this release's api Service. */}}
{{- define "hotline.apiEndpoint" -}}
{{- if .Values.operator.apiEndpoint }}
{{- .Values.operator.apiEndpoint }}
{{- else }}
{{- $api := include "hotline.serviceValues" (dict "root" . "name" "api") | fromYaml }}
{{- printf "http://%s.%s.svc:%d" (include "hotline.componentName" (dict "root" . "name" "api")) .Release.Namespace (int $api.grpcPort) }}
{{- end }}
{{- end }}

{{/* terminationGracePeriodSeconds of a service. Argument: dict "root" $ "svc" <values>. */}}
{{- define "hotline.terminationGracePeriod" -}}
{{- $drain := add (int .root.Values.gracePeriodSeconds) (int .svc.preStopSleepSeconds) }}
{{- if .svc.terminationGracePeriodSeconds }}
{{- if le (int .svc.terminationGracePeriodSeconds) $drain }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed gracePeriodSeconds + preStopSleepSeconds (%d), or pods are killed while draining" (int .svc.terminationGracePeriodSeconds) $drain) }}
{{- end }}
{{- int .svc.terminationGracePeriodSeconds }}
{{- else }}
{{- add $drain 10 }}
{{- end }}
{{- end }}

{{/*
Appends env entries to a dict "order" (list of names) / "byName" (name -> entry); an
entry whose name was seen replaces the earlier one in place, so extraEnv overrides the
chart's variables without duplicate names; values become strings. Argument: dict "acc" <accumulator> "env" <list>.
*/}}
{{- define "hotline.env.add" -}}
{{- range .env }}
{{- if not (hasKey $.acc.byName .name) }}
{{- $_ := set $.acc "order" (append $.acc.order .name) }}
{{- end }}
{{- $e := deepCopy . }}
{{- if hasKey $e "value" }}{{ $_ := set $e "value" (toString $e.value) }}{{ end }}
{{- $_ := set $.acc.byName .name $e }}
{{- end }}
{{- end }}

{{/*
Checks across values that the schema cannot express; fails the render with the setting
to fix.
*/}}
{{- define "hotline.validate" -}}
{{- $standalone := false }}
{{- range $name := include "hotline.enabledServices" . | fromYamlArray }}
{{- $svc := include "hotline.serviceValues" (dict "root" $ "name" $name) | fromYaml }}
{{- if $svc.backends }}{{ $standalone = true }}{{ end }}
{{- if and (not $svc.httpPort) (not $svc.opsPort) }}
{{- fail (printf "services.%s needs opsPort (or httpPort): probes and metrics are served there" $name) }}
{{- end }}
{{- if $svc.autoscaling.enabled }}
{{- if gt (int $svc.autoscaling.minReplicas) (int $svc.autoscaling.maxReplicas) }}
{{- fail (printf "services.%s autoscaling: minReplicas (%d) exceeds maxReplicas (%d)" $name (int $svc.autoscaling.minReplicas) (int $svc.autoscaling.maxReplicas)) }}
{{- end }}
{{- if and (not $svc.autoscaling.targetCPUUtilizationPercentage) (not $svc.autoscaling.targetMemoryUtilizationPercentage) }}
{{- fail (printf "services.%s autoscaling needs targetCPUUtilizationPercentage or targetMemoryUtilizationPercentage" $name) }}
{{- end }}
{{- end }}
{{- $pdb := $svc.podDisruptionBudget }}
{{- if $pdb.enabled }}
{{- $floor := ternary (int $svc.autoscaling.minReplicas) (int $svc.replicas) (eq $svc.autoscaling.enabled true) }}
{{- if and (kindIs "invalid" $pdb.minAvailable) (not (kindIs "string" $pdb.maxUnavailable)) (eq (int $pdb.maxUnavailable) 0) (not (kindIs "invalid" $pdb.maxUnavailable)) }}
{{- fail (printf "services.%s podDisruptionBudget.maxUnavailable is 0: no pod could ever be evicted, node drains would hang" $name) }}
{{- end }}
{{- if and (not (kindIs "invalid" $pdb.minAvailable)) (not (kindIs "string" $pdb.minAvailable)) (ge (int $pdb.minAvailable) $floor) }}
{{- fail (printf "services.%s podDisruptionBudget.minAvailable (%d) must be below its replicas (%d), or node drains would hang" $name (int $pdb.minAvailable) $floor) }}
{{- end }}
{{- end }}
{{- end }}
{{- if $standalone }}
{{- if not .Values.kafka.brokers }}
{{- fail "kafka.brokers is empty: standalone services need a Kafka cluster (bus.kind=kafka)" }}
{{- end }}
{{- if and (not .Values.redis.urls) (not .Values.redis.existingSecret) }}
{{- fail "redis.urls is empty and redis.existingSecret unset: standalone services need Redis (state.kind=redis)" }}
{{- end }}
{{- if not .Values.postgres.existingSecret }}
{{- fail "postgres.existingSecret is empty: name the Secret holding the PostgreSQL URL (store.url)" }}
{{- end }}
{{- if not .Values.s3.existingSecret }}
{{- fail "s3.existingSecret is empty: name the Secret holding the S3 access keys" }}
{{- end }}
{{- if not .Values.s3.bucket }}
{{- fail "s3.bucket is empty" }}
{{- end }}
{{- end }}
{{- if and .Values.services.operator.enabled (not .Values.services.api.enabled) (not .Values.operator.apiEndpoint) }}
{{- fail "the operator needs the api: enable services.api or set operator.apiEndpoint" }}
{{- end }}
{{- if and .Values.sip.enabled (not .Values.services.ingress.enabled) }}
{{- fail "sip.enabled needs services.ingress.enabled: the SIP Service selects the ingress pods" }}
{{- end }}
{{- if and .Values.apiIngress.enabled (not .Values.services.api.enabled) }}
{{- fail "apiIngress.enabled needs services.api.enabled" }}
{{- end }}
{{- end }}

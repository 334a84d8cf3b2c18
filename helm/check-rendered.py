#!/usr/bin/env python3
"""Checks rendered Hotline chart manifests for what schema validation cannot see.

    check-rendered.py [--hotline BIN] [--defaults hotline.toml] MANIFEST.yaml...

Each MANIFEST is one installation (the output of one `helm template`).

kubernetes-validate proves each object is well-formed; this proves they fit together and
that every pod would start with a valid configuration:

- every Service, PodDisruptionBudget, HorizontalPodAutoscaler, ServiceMonitor and
  Ingress selects or names a Deployment (or Service) that exists, through ports that
  exist, with the right protocol;
- every container runs a known `hotline` command as non-root on a read-only root
  filesystem with all capabilities dropped, resources and probes set, service links off
  (they would inject HOTLINE_* variables), and a termination grace period above the
  drain time;
- its configuration (the ConfigMap's hotline.toml layered with the container's HOTLINE_*
  environment, secrets replaced by placeholders) names only real settings, listens on
  the ports the container declares on a non-loopback address, and, for the standalone
  services, uses Kafka, Redis, PostgreSQL and S3;
- with --hotline, the real binary's `check-config` accepts that configuration.

Exits 1 listing every problem found.
"""

import argparse
import subprocess
import sys
import tempfile
import tomllib

import yaml

SERVICES = {"ingress", "routing", "recording", "crm", "analytics", "api", "operator"}
CONFIG_ENV = "HOTLINE_CONFIG"
PLACEHOLDERS = {
    "HOTLINE_STORE_URL": "postgres://placeholder@postgres.invalid:5432/hotline",
    "HOTLINE_STATE_URLS": "redis://placeholder.invalid:6379",
}

problems = []


def problem(where, message):
    problems.append(f"{where}: {message}")


def leaves(table, prefix=""):
    """Setting path -> default value, for every leaf of a TOML table."""
    out = {}
    for key, value in table.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            out.update(leaves(value, path))
        else:
            out[path] = value
    return out


def env_name(path):
    return "HOTLINE_" + path.upper().replace(".", "_").replace("-", "_")


def parse_env(default, raw):
    """As the runtime's config loader does (crates/runtime/src/config.rs)."""
    if isinstance(default, bool):
        low = raw.strip()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise ValueError("expected true or false")
    if isinstance(default, int):
        return int(raw.strip())
    if isinstance(default, list):
        return [s.strip() for s in raw.split(",") if s.strip()]
    return raw


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def key(obj):
    return (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def load(path):
    with open(path) as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def pod_of(deploy):
    return deploy["spec"]["template"]


def container_ports(deploy):
    """name -> (port, protocol) over every container of a Deployment's pod."""
    out = {}
    for c in pod_of(deploy)["spec"]["containers"]:
        for p in c.get("ports", []):
            if "name" in p:
                out[p["name"]] = (p["containerPort"], p.get("protocol", "TCP"))
    return out


def check_unique(objs):
    seen = set()
    for o in objs:
        k = key(o)
        if k in seen:
            problem("/".join(k), "rendered twice")
        seen.add(k)


def check_deployment(d, objs, defaults, hotline):
    where = f"Deployment {d['metadata']['name']}"
    spec = d["spec"]
    pod = pod_of(d)
    if not matches(spec["selector"]["matchLabels"], pod["metadata"].get("labels", {})):
        problem(where, "selector does not match its pod labels")
    ps = pod["spec"]
    if ps.get("enableServiceLinks") is not False:
        problem(where, "enableServiceLinks must be false (service links inject HOTLINE_* variables)")
    if not ps.get("securityContext", {}).get("runAsNonRoot"):
        problem(where, "pod securityContext.runAsNonRoot is not true")
    containers = ps["containers"]
    if len(containers) != 1:
        problem(where, f"expected one container, found {len(containers)}")
    volumes = {v["name"]: v for v in ps.get("volumes", [])}
    configmaps = {
        o["metadata"]["name"]: o for o in objs if o["kind"] == "ConfigMap"
    }
    for c in containers:
        cw = f"{where} container {c['name']}"
        args = c.get("args", [])
        service = args[0] if args else None
        if service not in SERVICES:
            problem(cw, f"runs {args!r}, not one of the hotline services")
            continue
        sc = c.get("securityContext", {})
        if sc.get("readOnlyRootFilesystem") is not True:
            problem(cw, "readOnlyRootFilesystem is not true")
        if sc.get("allowPrivilegeEscalation") is not False:
            problem(cw, "allowPrivilegeEscalation is not false")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            problem(cw, "capabilities are not all dropped")
        res = c.get("resources", {})
        for kind, names in (("requests", ("cpu", "memory")), ("limits", ("memory",))):
            for n in names:
                if n not in res.get(kind, {}):
                    problem(cw, f"no resources.{kind}.{n}")
        ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
        ops_name = "http" if service == "api" else "ops"
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
            get = c.get(probe, {}).get("httpGet")
            if not get:
                problem(cw, f"no {probe}")
                continue
            if get.get("path") != path or get.get("port") != ops_name:
                problem(cw, f"{probe} is {get.get('path')} on {get.get('port')}, expected {path} on {ops_name}")
        for need in ("grpc", ops_name):
            if need not in ports:
                problem(cw, f"no container port named {need}")

        # The environment, as the pod would have it; secrets become placeholders.
        env = {}
        for e in c.get("env", []):
            name = e["name"]
            if name in env:
                problem(cw, f"environment variable {name} is set twice")
            if "value" in e:
                env[name] = str(e["value"])
            elif "valueFrom" in e:
                env[name] = PLACEHOLDERS.get(name, "placeholder")
            else:
                env[name] = ""
        config_path = env.get(CONFIG_ENV)
        if not config_path:
            problem(cw, f"{CONFIG_ENV} is not set")
            continue
        text, mounted = None, False
        for m in c.get("volumeMounts", []):
            prefix = m["mountPath"].rstrip("/") + "/"
            if config_path.startswith(prefix):
                mounted = True
                vol = volumes.get(m["name"], {})
                cm = configmaps.get(vol.get("configMap", {}).get("name"))
                if cm is None:
                    problem(cw, f"{config_path} is not on a ConfigMap rendered by the chart")
                else:
                    text = cm.get("data", {}).get(config_path[len(prefix):])
                    if text is None:
                        problem(cw, f"ConfigMap {cm['metadata']['name']} has no {config_path[len(prefix):]}")
        if not mounted:
            problem(cw, f"{config_path} is not mounted")
        if text is None:
            continue

        # Effective configuration: defaults < hotline.toml < HOTLINE_* environment.
        try:
            file_cfg = leaves(tomllib.loads(text))
        except tomllib.TOMLDecodeError as e:
            problem(cw, f"hotline.toml does not parse: {e}")
            continue
        cfg = dict(defaults)
        for path, value in file_cfg.items():
            if path not in defaults:
                problem(cw, f"hotline.toml sets {path}, which is no setting")
            cfg[path] = value
        by_env = {env_name(p): p for p in defaults}
        for name, raw in env.items():
            if not name.startswith("HOTLINE_") or name == CONFIG_ENV:
                continue
            path = by_env.get(name)
            if path is None:
                problem(cw, f"environment variable {name} names no setting")
                continue
            try:
                cfg[path] = parse_env(defaults[path], raw)
            except ValueError as e:
                problem(cw, f"{name}={raw!r}: {e}")

        listeners = [("grpc", f"{service}.grpc")]
        listeners.append(("http", "http") if service == "api" else ("ops", f"{service}.ops"))
        for port_name, setting in listeners:
            host = cfg.get(f"{setting}.host")
            if host in ("127.0.0.1", "localhost", "::1"):
                problem(cw, f"{setting}.host is {host}: unreachable from outside the pod")
            if port_name in ports and cfg.get(f"{setting}.port") != ports[port_name]:
                problem(cw, f"{setting}.port is {cfg.get(f'{setting}.port')} but container port {port_name} is {ports[port_name]}")
        if service != "operator":
            for setting, want in (("bus.kind", "kafka"), ("state.kind", "redis"), ("store.kind", "postgres"), ("objects.kind", "s3")):
                if cfg.get(setting) != want:
                    problem(cw, f"{setting} is {cfg.get(setting)!r}, a standalone service needs {want!r}")
            if "HOTLINE_STORE_URL" not in env:
                problem(cw, "HOTLINE_STORE_URL (the PostgreSQL URL) is not set")
        grace = cfg.get("grace_period_seconds", 0)
        sleep = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        tgp = ps.get("terminationGracePeriodSeconds", 30)
        if tgp <= grace + sleep:
            problem(where, f"terminationGracePeriodSeconds {tgp} does not exceed grace_period_seconds {grace} + preStop sleep {sleep}")

        if hotline:
            with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
                f.write(text)
                f.flush()
                run_env = {k: v for k, v in env.items() if k.startswith("HOTLINE_")}
                run_env[CONFIG_ENV] = f.name
                r = subprocess.run([hotline, "check-config"], env=run_env, capture_output=True, text=True)
                if r.returncode != 0:
                    problem(cw, f"`hotline check-config` rejects its configuration: {r.stderr.strip()}")


def check_service(s, deployments):
    where = f"Service {s['metadata']['name']}"
    sel = s["spec"].get("selector", {})
    targets = [d for d in deployments if matches(sel, pod_of(d)["metadata"].get("labels", {}))]
    if len(targets) != 1:
        problem(where, f"selects {len(targets)} Deployments, expected 1")
        return
    cports = container_ports(targets[0])
    for p in s["spec"]["ports"]:
        target = p.get("targetPort", p["port"])
        if isinstance(target, str):
            if target not in cports:
                problem(where, f"port {p['name']} targets {target}, which no container declares")
            elif cports[target][1] != p.get("protocol", "TCP"):
                problem(where, f"port {p['name']} is {p.get('protocol', 'TCP')} but {target} is {cports[target][1]}")
        elif target not in {v[0] for v in cports.values()}:
            problem(where, f"port {p['name']} targets {target}, which no container declares")


def check(objs, defaults, hotline):
    check_unique(objs)
    deployments = [o for o in objs if o["kind"] == "Deployment"]
    services = [o for o in objs if o["kind"] == "Service"]
    deploy_names = {d["metadata"]["name"]: d for d in deployments}
    if not deployments:
        problem("manifests", "no Deployment rendered")
    for d in deployments:
        check_deployment(d, objs, defaults, hotline)
    for s in services:
        check_service(s, deployments)
    for o in objs:
        kind, name = o["kind"], o["metadata"]["name"]
        where = f"{kind} {name}"
        if kind == "PodDisruptionBudget":
            sel = o["spec"]["selector"]["matchLabels"]
            n = sum(matches(sel, pod_of(d)["metadata"].get("labels", {})) for d in deployments)
            if n != 1:
                problem(where, f"selects {n} Deployments, expected 1")
        elif kind == "HorizontalPodAutoscaler":
            ref = o["spec"]["scaleTargetRef"]
            target = deploy_names.get(ref["name"])
            if ref["kind"] != "Deployment" or target is None:
                problem(where, f"scales {ref['kind']} {ref['name']}, which is not rendered")
            elif "replicas" in target["spec"]:
                problem(where, f"Deployment {ref['name']} also sets replicas; every upgrade would undo the autoscaler")
        elif kind == "ServiceMonitor":
            sel = o["spec"]["selector"]["matchLabels"]
            selected = [s for s in services if matches(sel, s["metadata"].get("labels", {}))]
            if not selected:
                problem(where, "selects no Service")
            for ep in o["spec"]["endpoints"]:
                for s in selected:
                    if ep["port"] not in {p["name"] for p in s["spec"]["ports"]}:
                        problem(where, f"Service {s['metadata']['name']} has no port {ep['port']}")
        elif kind == "Ingress":
            for rule in o["spec"].get("rules", []):
                for path in rule.get("http", {}).get("paths", []):
                    svc = path["backend"]["service"]
                    target = next((s for s in services if s["metadata"]["name"] == svc["name"]), None)
                    port = svc["port"].get("name", svc["port"].get("number"))
                    if target is None:
                        problem(where, f"routes to Service {svc['name']}, which is not rendered")
                    elif port not in {p.get("name") for p in target["spec"]["ports"]} | {p["port"] for p in target["spec"]["ports"]}:
                        problem(where, f"routes to port {port}, which Service {svc['name']} lacks")
        elif kind == "ClusterRoleBinding":
            for subj in o.get("subjects", []):
                if subj["kind"] != "ServiceAccount":
                    continue
                users = [d for d in deployments if pod_of(d)["spec"].get("serviceAccountName") == subj["name"]]
                if not users:
                    problem(where, f"binds ServiceAccount {subj['name']}, which no Deployment uses")
    for d in deployments:
        pod_spec = pod_of(d)["spec"]
        sa = pod_spec.get("serviceAccountName", "default")
        rendered = {o["metadata"]["name"] for o in objs if o["kind"] == "ServiceAccount"}
        if sa != "default" and rendered and sa not in rendered:
            problem(f"Deployment {d['metadata']['name']}", f"uses ServiceAccount {sa}, which is not rendered")
        if d["metadata"]["name"].endswith("-operator"):
            if not pod_spec.get("automountServiceAccountToken", True):
                problem(f"Deployment {d['metadata']['name']}", "the operator needs its ServiceAccount token")
        elif pod_spec.get("automountServiceAccountToken", True):
            problem(f"Deployment {d['metadata']['name']}", "mounts a ServiceAccount token it does not need")
    roles = [o for o in objs if o["kind"] == "ClusterRole"]
    if any(d["metadata"]["name"].endswith("-operator") for d in deployments) and roles:
        granted = {
            (g, r, v)
            for role in roles
            for rule in role.get("rules", [])
            for g in rule.get("apiGroups", [])
            for r in rule.get("resources", [])
            for v in rule.get("verbs", [])
        }
        for r in ("tenants", "tenants/status"):
            for v in ("get", "list", "watch", "patch"):
                if ("hotline.io", r, v) not in granted:
                    problem("ClusterRole", f"does not grant {v} on {r}.hotline.io")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hotline", help="the hotline binary: its default-config and check-config are used")
    ap.add_argument("--defaults", help="a TOML file with every setting's default (deploy/config/hotline.toml)")
    ap.add_argument("manifests", nargs="+")
    a = ap.parse_args()
    if a.hotline:
        r = subprocess.run([a.hotline, "default-config"], capture_output=True, text=True, env={})
        if r.returncode != 0:
            sys.exit(f"check-rendered: `{a.hotline} default-config` failed: {r.stderr.strip()}")
        defaults = leaves(tomllib.loads(r.stdout))
    elif a.defaults:
        with open(a.defaults, "rb") as f:
            defaults = leaves(tomllib.load(f))
    else:
        sys.exit("check-rendered: give --hotline or --defaults")
    failed = False
    for manifest in a.manifests:
        problems.clear()
        check(load(manifest), defaults, a.hotline)
        for p in problems:
            print(f"check-rendered: {manifest}: {p}", file=sys.stderr)
        if problems:
            failed = True
        else:
            print(f"check-rendered: {manifest}: ok")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()

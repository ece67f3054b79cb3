"""deploy/monitoring/ as it ships: the alerts pass `promtool check rules` and their unit tests (`promtool test rules`,
with a firing and a quiet case for every alert), the PrometheusRule carries exactly the plain rule file's groups,
the PodMonitors scrape the pods and ports deploy/ runs, the dashboard's queries parse and cover every metric dnslb
exports, and every metric and label the rules and the dashboard use is one the processes (or the scrape) give.

These need `promtool` (Debian's `prometheus` package, which `make test` installs) and `kubectl` (for `kubectl
kustomize`: the kustomization generates the dashboard's ConfigMap, which tests/deploy/kustomize.py does not
implement); without them they fail.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]  # it ships no type hints
import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.metrics import MetricWrapperBase

from dnslb.adapters.dnssync.loop import DNSMetrics
from dnslb.app.controller import Metrics
from dnslb.app.ops import parse_addr
from dnslb.app.speaker import SpeakerMetrics
from tests.deploy.kustomize import DEPLOY, ROOT, Obj, build, one

MONITORING = DEPLOY / "monitoring"
RULES = MONITORING / "rules.yaml"
RULES_TEST = MONITORING / "rules_test.yaml"
DASHBOARD = MONITORING / "dashboard.json"
NS = "dnslb-system"
PROMTOOL = shutil.which("promtool")
KUBECTL = shutil.which("kubectl")
# what each PodMonitor must scrape: the workload whose pods it selects
WORKLOADS = {"dnslb-controller": ("Deployment", "dnslb-controller"), "dnslb-speaker": ("DaemonSet", "dnslb-speaker")}
# the fields of the Operator's v1 CRDs these files use (monitoring.coreos.com_podmonitors / _prometheusrules);
# anything else is a typo the API server would drop or refuse
PODMONITOR_SPEC = {"selector", "podMetricsEndpoints", "namespaceSelector", "jobLabel", "podTargetLabels"}
ENDPOINT_FIELDS = {"port", "path", "interval", "scrapeTimeout", "scheme", "relabelings", "metricRelabelings"}
RELABEL_FIELDS = {"sourceLabels", "separator", "targetLabel", "regex", "modulus", "replacement", "action"}
RULE_FIELDS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}
# what a scrape adds to every series (the Operator's target labels, and `node` from podmonitors.yaml)
SCRAPE_LABELS = {"instance", "job", "namespace", "pod", "container", "endpoint", "node"}
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    if PROMTOOL is None:
        pytest.fail("promtool is not on PATH: `make test` installs Debian's `prometheus` package, which ships it")
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def rules() -> list[Obj]:
    return [rule for group in load(RULES)["groups"] for rule in group["rules"]]


def alerts() -> dict[str, Obj]:
    found = {rule["alert"]: rule for rule in rules() if "alert" in rule}
    assert len(found) == len([r for r in rules() if "alert" in r]), "alert names must be unique"
    return found


def series_labels() -> dict[str, set[str]]:
    """Every series name the controller (with its DNS loop) and the speaker expose, histograms as _bucket, _sum and
    _count, with the label names the process gives it."""
    found: dict[str, set[str]] = {}
    for metrics in (Metrics(CollectorRegistry()), DNSMetrics(CollectorRegistry()), SpeakerMetrics(CollectorRegistry())):
        for metric in vars(metrics).values():
            if not isinstance(metric, MetricWrapperBase):
                continue
            name, labels = metric._name, set(metric._labelnames)
            if isinstance(metric, Counter):
                found[f"{name}_total"] = labels
            elif isinstance(metric, Histogram):
                found |= {f"{name}_bucket": labels | {"le"}, f"{name}_sum": labels, f"{name}_count": labels}
            else:
                found[name] = labels
    return found


def exported() -> set[str]:
    return set(series_labels())


def metric_names(text: str) -> set[str]:
    return set(re.findall(r"\bdnslb_[a-z_]+\b", text))


def dashboard() -> Obj:
    loaded: Obj = json.loads(DASHBOARD.read_text())
    return loaded


def panels(board: Obj) -> Iterator[Obj]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row holds its panels


def queries(board: Obj) -> list[tuple[str, str]]:
    """(panel title, PromQL) for every target of every panel."""
    return [(p["title"], t["expr"]) for p in panels(board) for t in p.get("targets", [])]


def troubleshooting_rows() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Troubleshooting")
    end = readme.find("\n## ", start + 1)
    section = readme[start : end if end != -1 else None]
    rows = re.findall(r"^\| (.+?) \| .* \|$", section, re.MULTILINE)
    return {row for row in rows if row != "symptom" and not set(row) <= {"-", "|", " "}}


# --- the rules ------------------------------------------------------------------------------------------------------


def test_promtool_accepts_the_rule_file() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_the_alert_unit_tests_pass() -> None:
    result = promtool("test", "rules", str(RULES_TEST))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_test_rules_fails_on_a_broken_rule(tmp_path: Path) -> None:
    """The unit tests can fail: the same cases against rules whose pool threshold includes exactly 90%."""
    broken = RULES.read_text().replace("(dnslb_pool_addresses > 0)) > 0.9", "(dnslb_pool_addresses > 0)) >= 0.9")
    assert broken != RULES.read_text()
    (tmp_path / RULES.name).write_text(broken)
    shutil.copy(RULES_TEST, tmp_path / RULES_TEST.name)
    result = promtool("test", "rules", RULES_TEST.name, cwd=tmp_path)
    assert result.returncode != 0
    assert "DnslbPoolNearlyFull" in result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in load(RULES_TEST)["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert set(alerts()) - firing == set(), "alerts without a test where they fire"
    assert set(alerts()) - quiet == set(), "alerts without a test where they must not fire"
    assert (firing | quiet) - set(alerts()) == set(), "tests of alerts that do not exist"


def test_the_prometheusrule_carries_exactly_the_rule_files_groups() -> None:
    objects = list(yaml.safe_load_all((MONITORING / "prometheusrule.yaml").read_text()))
    assert len(objects) == 1
    (rule,) = objects
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert rule["metadata"]["namespace"] == NS
    assert set(rule["spec"]) == {"groups"}
    assert rule["spec"]["groups"] == load(RULES)["groups"], "prometheusrule.yaml and rules.yaml have drifted"


def test_every_alert_says_what_happened_how_bad_and_where_to_look() -> None:
    rows = troubleshooting_rows()
    assert rows, "README.md has no Troubleshooting table"
    for name, alert in alerts().items():
        assert set(alert) <= RULE_FIELDS, name
        assert re.fullmatch(r"Dnslb[A-Z][A-Za-z]+", name), name
        assert re.fullmatch(r"\d+m", alert.get("for", "")), f"{name}: a `for:` of whole minutes"
        assert alert["labels"]["severity"] in {"critical", "warning"}, name
        annotations = alert["annotations"]
        assert set(annotations) == {"summary", "description", "runbook"}, name
        runbook = re.fullmatch(r'README\.md, Troubleshooting: "(.+)"', annotations["runbook"])
        assert runbook, f"{name}: runbook names a row of README.md's Troubleshooting table"
        assert runbook.group(1) in rows, f"{name}: no Troubleshooting row {runbook.group(1)!r}"


def test_the_rules_and_the_dashboard_use_only_metrics_dnslb_exports() -> None:
    names = exported()
    assert "dnslb_leader" in names and "dnslb_dns_sync_duration_seconds_bucket" in names  # the collection works
    names |= {n.removesuffix("_bucket") for n in names if n.endswith("_bucket")}  # a histogram, as the README names it
    assert metric_names(RULES.read_text()) - names == set()
    assert metric_names(DASHBOARD.read_text()) - names == set()


def test_the_rules_and_the_dashboard_use_only_labels_the_series_carry() -> None:
    """Each `by (...)` over a metric and each matcher on one names a label that metric has or the scrape adds."""
    labels = series_labels()
    expressions = [rule["expr"] for rule in rules()] + [expr for _, expr in queries(dashboard())]
    used: list[tuple[str, str]] = []
    for expr in expressions:
        for grouping, metric in re.findall(r"by \(([^)]*)\) \((?:[a-z_]+\()?(dnslb_[a-z_]+)", expr):
            used += [(metric, label.strip()) for label in grouping.split(",")]
        for metric, matchers in re.findall(r"(dnslb_[a-z_]+)\{([^}]*)\}", expr):
            used += [(metric, label) for label in re.findall(r"([a-z_]+)\s*[=!]", matchers)]
    assert len(used) > 20  # the patterns find what they look for
    assert [(m, label) for m, label in used if label not in labels[m] | SCRAPE_LABELS] == []
    for name, alert in alerts().items():
        available = set().union(*(labels[m] for m in metric_names(alert["expr"]))) | SCRAPE_LABELS
        for text in alert["annotations"].values():
            assert set(re.findall(r"\$labels\.([a-z_]+)", text)) <= available, name


def test_the_leader_alerts_count_the_one_replica_of_single_replica_mode_as_a_leader() -> None:
    """--leader-elect=false makes the one controller report dnslb_leader 1: `< 1` and `> 1` both stay quiet for it,
    and with no controller scraped the sum is empty, so absent() has to speak."""
    found = alerts()
    assert re.search(r"\(dnslb_leader\)\) < 1$", found["DnslbNoLeader"]["expr"])
    assert re.search(r"\(dnslb_leader\)\) > 1$", found["DnslbMultipleLeaders"]["expr"])
    assert found["DnslbControllerAbsent"]["expr"] == "absent(dnslb_leader)"


# --- what scrapes ---------------------------------------------------------------------------------------------------


def test_the_podmonitors_scrape_the_metrics_port_of_every_pod_deploy_runs() -> None:
    base = build(DEPLOY)
    monitors = list(yaml.safe_load_all((MONITORING / "podmonitors.yaml").read_text()))
    assert sorted(m["metadata"]["name"] for m in monitors) == sorted(WORKLOADS)
    for monitor in monitors:
        name = monitor["metadata"]["name"]
        assert (monitor["apiVersion"], monitor["kind"]) == ("monitoring.coreos.com/v1", "PodMonitor")
        assert set(monitor["spec"]) <= PODMONITOR_SPEC, name
        workload = one(base, *WORKLOADS[name])
        # no namespaceSelector: a PodMonitor selects pods of its own namespace
        assert "namespaceSelector" not in monitor["spec"] and monitor["metadata"]["namespace"] == NS
        assert workload["metadata"]["namespace"] == NS
        selector = monitor["spec"]["selector"]
        assert set(selector) == {"matchLabels"}, name
        template_labels = workload["spec"]["template"]["metadata"]["labels"]
        assert selector["matchLabels"].items() <= template_labels.items(), f"{name} selects none of {workload}"
        others = [o for o in base if o["kind"] in {"Deployment", "DaemonSet"} and o is not workload]
        for other in others:  # and only its own workload's pods
            assert not selector["matchLabels"].items() <= other["spec"]["template"]["metadata"]["labels"].items()
        (container,) = workload["spec"]["template"]["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"] if "name" in p}
        (addr,) = [a.removeprefix("--metrics-addr=") for a in container["args"] if a.startswith("--metrics-addr=")]
        (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
        assert set(endpoint) <= ENDPOINT_FIELDS, name
        assert endpoint["path"] == "/metrics"
        assert endpoint["port"] in ports, f"{name}: container port {endpoint['port']!r} has no name in deploy/"
        assert ports[endpoint["port"]] == parse_addr(addr)[1], f"{name}: the port is not --metrics-addr's"
        for relabeling in endpoint["relabelings"]:
            assert set(relabeling) <= RELABEL_FIELDS, name
        assert {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node", "action": "replace"} in (
            endpoint["relabelings"]
        ), f"{name}: the speaker alerts and the dashboard need a `node` label"


def test_the_speaker_alerts_name_the_node_the_podmonitor_adds() -> None:
    for name in ("DnslbBGPSessionDown", "DnslbNodeDamped"):
        assert "{{ $labels.node }}" in alerts()[name]["annotations"]["summary"], name


def test_kustomize_builds_the_monitors_the_rule_and_the_dashboard_configmap() -> None:
    if KUBECTL is None:
        pytest.fail("kubectl is not on PATH: `make test` installs Debian's kubernetes-client")
    result = subprocess.run(
        [KUBECTL, "kustomize", str(MONITORING)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    objects = [o for o in yaml.safe_load_all(result.stdout) if o]
    assert sorted((o["kind"], o["metadata"]["name"]) for o in objects) == [
        ("ConfigMap", "dnslb-dashboard"),
        ("PodMonitor", "dnslb-controller"),
        ("PodMonitor", "dnslb-speaker"),
        ("PrometheusRule", "dnslb"),
    ]
    assert {o["metadata"]["namespace"] for o in objects} == {NS}
    config_map = one(objects, "ConfigMap", "dnslb-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"  # what Grafana's sidecar looks for
    assert json.loads(config_map["data"]["dnslb.json"]) == dashboard()
    kubernetes_validate.validate(config_map, kubernetes_validate.latest_version(), strict=True)
    assert one(objects, "PrometheusRule", "dnslb") == load(MONITORING / "prometheusrule.yaml")
    assert len(result.stdout) < 262144, "kubectl apply keeps the whole object in an annotation of at most 256 KiB"


# --- the dashboard --------------------------------------------------------------------------------------------------


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each panel's query as a recording rule, with Grafana's variables filled in."""
    found = queries(dashboard())
    assert found
    recorded = []
    for index, (title, query) in enumerate(found):
        expr = query
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        expr = re.sub(r"\$\{?[a-z_]+\}?", ".*", expr)  # the dashboard's own variables, as "All" makes them
        assert "$" not in expr, f"{title}: {query}"
        recorded.append({"record": f"dashboard:query_{index}", "expr": expr})
    (tmp_path / "queries.yaml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": recorded}]}))
    result = promtool("check", "rules", str(tmp_path / "queries.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_shows_every_metric_dnslb_exports() -> None:
    shown = set()
    for _, expr in queries(dashboard()):
        shown |= metric_names(expr)
    histograms = {n.removesuffix("_bucket") for n in exported() if n.endswith("_bucket")}
    missing = {n for n in exported() if n not in shown and n.rpartition("_")[0] not in histograms}
    assert missing == set(), "metrics no panel shows"


def test_the_dashboard_shows_what_an_operator_asks_first() -> None:
    expressions = [expr for _, expr in queries(dashboard())]

    def shown(pattern: str) -> bool:
        return any(re.search(pattern, e) for e in expressions)

    assert shown(r"dnslb_pool_addresses_in_use\) / max by \(pool, family\) \(dnslb_pool_addresses > 0\)")
    assert shown(r"by \(node, peer\) \(dnslb_bgp_sessions_up"), "sessions up per node and peer"
    assert shown(r"by \(node, peer\) \(dnslb_bgp_prefixes_announced"), "prefixes per node and peer"
    assert shown(r"by \(state\) \(dnslb_bgp_vips"), "VIPs by state"
    assert shown(r"histogram_quantile\(0\.99, sum by \(le\) \(rate\(dnslb_dns_sync_duration_seconds_bucket")
    assert shown(r"histogram_quantile\(0\.99, sum by \(le\) \(rate\(dnslb_reconcile_duration_seconds_bucket")
    assert shown(r"time\(\) - max by \(provider\) \(dnslb_dns_last_success_timestamp_seconds")
    assert shown(r"sum\(max by \(instance\) \(dnslb_leader\)\)"), "the leader count the alerts use"


def test_the_dashboard_is_well_formed_for_grafana() -> None:
    board = dashboard()
    assert board["uid"] == "dnslb" and board["title"] == "dnslb"
    assert "__inputs" not in board, "an exported-for-sharing dashboard cannot be provisioned from a ConfigMap"
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for panel in panels(board):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel["targets"], panel["title"]
    used = {m for _, expr in queries(board) for m in re.findall(r"\$\{?([a-z_]+)\}?", expr)} - {"__rate_interval"}
    assert used <= set(variables), "queries use variables the dashboard does not define"
    for name in used:  # each variable lists the values of a label the selected series carry
        query = variables[name]["definition"]
        assert re.fullmatch(rf"label_values\(dnslb_[a-z_]+, {name}\)", query), query
        assert metric_names(query) <= exported()

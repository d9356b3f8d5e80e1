#!/usr/bin/env node
// Offline validation of leakwatch's Kubernetes manifests (deploy/kubernetes).
//
//   node validate.mjs FILE...
//
// Every YAML document of every file is checked against the schema of its kind (kubernetes-models for the
// core API, @kubernetes-models/prometheus-operator for the monitors and rules); a Kustomization by hand (the
// files it lists exist). A file that a Kustomization's configMapGenerator names is the agent's config, not a
// manifest: it is checked as the ConfigMap the generator makes of it. Then the files are checked against each
// other: selectors select, named ports exist, mounts are where the agent's config says they are, and the pod
// keeps its hardening (a schema lets a misspelt securityContext field through silently; this check does not).
//
// Prints one line per problem, `FILE: document N (Kind/name): message`, and exits 1 when there is any, 2 on a
// usage error, 0 otherwise. YAML is read as YAML 1.1, as kubectl and kustomize read it (0440 is octal, `off`
// is false).
//
// The packages are resolved next to this file: the tests copy it beside the node_modules that `npm ci`
// installed from package-lock.json.

import fs from "node:fs";
import path from "node:path";

import { parseAllDocuments, parse as parseYaml, LineCounter } from "yaml";
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { ConfigMap, PersistentVolumeClaim, Secret, Service } from "kubernetes-models/v1";
import {
  PodMonitor,
  PrometheusRule,
  ServiceMonitor,
} from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";

// apiVersion/kind -> model class. Anything else is an error: a kind this list does not know is a kind nobody
// validated.
const MODELS = new Map(
  [Deployment, StatefulSet, ConfigMap, PersistentVolumeClaim, Secret, Service, PodMonitor, PrometheusRule,
   ServiceMonitor].map((m) => [`${m.apiVersion}/${m.kind}`, m]),
);
const KUSTOMIZATION = "kustomize.config.k8s.io/v1beta1/Kustomization";

// What the agent uses when its config leaves a key out (include/leakwatch/agent.h, bundles.h).
const AGENT_DEFAULTS = { listen: "0.0.0.0:9860", requestTimeoutSeconds: 3, bundleDir: "/tmp/leakwatch",
                         bundleMaxBytes: 512 * 2 ** 20 };

const problems = [];

// ----- objects -----

// One YAML document: where it came from and what it holds.
class Doc {
  constructor(file, index, data, yamlDoc, lineCounter) {
    this.file = file;
    this.index = index;  // 1-based, counting every document of the file
    this.data = data;
    this.yamlDoc = yamlDoc;
    this.lineCounter = lineCounter;
  }
  get kind() { return this.data?.kind ?? "?"; }
  get name() { return this.data?.metadata?.name ?? "(unnamed)"; }
  get label() { return `${this.kind}/${this.name}`; }
  // The line of the node at `pathParts` (strings and numbers), or of the closest parent that exists.
  line(pathParts) {
    if (!this.yamlDoc) return undefined;
    for (let n = pathParts.length; n >= 0; --n) {
      const node = this.yamlDoc.getIn(pathParts.slice(0, n), true);
      if (node?.range) return this.lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  }
  report(message, pathParts) {
    const line = pathParts ? this.line(pathParts) : undefined;
    const where = line ? ` (line ${line})` : "";
    problems.push(`${this.file}: document ${this.index} (${this.label}): ${message}${where}`);
  }
}

function reportFile(file, message) {
  problems.push(`${file}: ${message}`);
}

// "spec/template/spec/containers/0/ports/0/containerPort" -> ["spec", ..., 0, ...]
function pointerToPath(pointer) {
  return pointer.split("/").filter((p) => p !== "").map((p) => {
    const s = p.replace(/~1/g, "/").replace(/~0/g, "~");
    return /^\d+$/.test(s) ? Number(s) : s;
  });
}

function firstLine(text) {
  return String(text).split("\n")[0];
}

// ----- reading -----

function readDocs(file) {
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    reportFile(file, `cannot read: ${e.message}`);
    return [];
  }
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { version: "1.1", lineCounter });
  const docs = [];
  (Array.isArray(parsed) ? parsed : [parsed]).forEach((yamlDoc, i) => {
    const doc = new Doc(file, i + 1, undefined, yamlDoc, lineCounter);
    if (yamlDoc.errors.length > 0) {
      for (const e of yamlDoc.errors) problems.push(`${file}: document ${i + 1}: YAML: ${firstLine(e.message)}`);
      return;
    }
    doc.data = yamlDoc.toJS({ maxAliasCount: 100 });
    if (doc.data === null || doc.data === undefined) return;  // only comments, or an empty document
    docs.push(doc);
  });
  return docs;
}

// ----- schema validation -----

function validateSchema(doc) {
  const d = doc.data;
  if (typeof d !== "object" || Array.isArray(d)) {
    doc.report("expected a Kubernetes object (a map with apiVersion and kind)");
    return false;
  }
  const key = `${d.apiVersion}/${d.kind}`;
  if (key === KUSTOMIZATION) return true;  // checkKustomization
  const Model = MODELS.get(key);
  if (!Model) {
    const known = [...MODELS.keys(), KUSTOMIZATION].join(", ");
    doc.report(`unknown apiVersion/kind "${d.apiVersion}" "${d.kind}" (this validator knows: ${known})`);
    return false;
  }
  try {
    new Model(d).validate();
    return true;
  } catch (e) {
    if (!Array.isArray(e.errors)) {
      doc.report(`validation failed: ${e.message}`);
      return false;
    }
    for (const err of e.errors) {
      const at = pointerToPath(err.instancePath ?? "");
      const field = at.length ? at.join(".") : "(top level)";
      let message = err.message ?? "is invalid";
      if (err.keyword === "required") message = `missing required field "${err.params.missingProperty}"`;
      if (err.keyword === "enum") message += ` (${err.params.allowedValues.join(", ")})`;
      if (err.keyword === "additionalProperties") message += ` ("${err.params.additionalProperty}")`;
      doc.report(`${field}: ${message}`, at);
    }
    return false;
  }
}

// ----- kustomization -----

// Returns the files its configMapGenerator names: {file (absolute), key, name (the ConfigMap's), hashed (a name
// suffix is added), doc and index (where the generator is, for reports)}.
function checkKustomization(doc) {
  const dir = path.dirname(path.resolve(doc.file));
  const k = doc.data;
  const known = new Set(["apiVersion", "kind", "namespace", "resources", "configMapGenerator", "secretGenerator",
                         "generatorOptions", "labels", "commonLabels", "commonAnnotations", "images",
                         "patches", "replicas", "namePrefix", "nameSuffix", "components"]);
  for (const field of Object.keys(k)) {
    if (!known.has(field)) doc.report(`unknown field "${field}" for this validator's Kustomization check`, [field]);
  }
  const exists = (rel, at, what) => {
    if (typeof rel !== "string" || rel === "") {
      doc.report(`${at.join(".")}: expected a file name`, at);
      return false;
    }
    if (/^[a-z]+:\/\//.test(rel)) return true;  // remote: not checked offline
    if (!fs.existsSync(path.resolve(dir, rel))) {
      doc.report(`${at.join(".")}: ${what} "${rel}" does not exist`, at);
      return false;
    }
    return true;
  };
  (k.resources ?? []).forEach((r, i) => exists(r, ["resources", i], "resource"));
  const generated = [];
  (k.configMapGenerator ?? []).forEach((g, i) => {
    if (!g?.name) doc.report(`configMapGenerator.${i}: missing name`, ["configMapGenerator", i]);
    (g?.files ?? []).forEach((entry, j) => {
      const at = ["configMapGenerator", i, "files", j];
      // "key=path" or "path" (the key is then the file's name)
      const [key, rel] = typeof entry === "string" && entry.includes("=") ? entry.split("=", 2)
                                                                         : [path.basename(String(entry)), entry];
      if (exists(rel, at, "file")) {
        generated.push({ file: path.resolve(dir, rel), key, name: g.name, doc, index: i,
                         hashed: !(g.options?.disableNameSuffixHash ?? k.generatorOptions?.disableNameSuffixHash) });
      }
    });
  });
  return generated;
}

// ----- cross-checks -----

const labelsMatch = (selector, labels) =>
  selector && Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

const fmtLabels = (l) => JSON.stringify(l ?? {});

function podSpecOf(doc) {
  return doc.data?.spec?.template?.spec;
}

function allContainers(podSpec) {
  return [...(podSpec?.initContainers ?? []), ...(podSpec?.containers ?? [])];
}

// Kubernetes quantities: "1Gi", "512Mi", "1G", "100M", "1000" -> bytes.
function parseQuantity(q) {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/.exec(String(q ?? ""));
  if (!m) return undefined;
  const mult = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
                 k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
  return Number(m[1]) * (m[2] ? mult[m[2]] : 1);
}

// leakwatch sizes (docs/CONFIG.md): "384MiB", "1.5GiB", "100kB", "1000".
function parseAgentSize(s) {
  const m = /^(\d+(?:\.\d+)?)(B|KiB|MiB|GiB|TiB|kB|MB|GB|TB)?$/.exec(String(s ?? ""));
  if (!m) return undefined;
  const mult = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };
  return Number(m[1]) * (m[2] ? mult[m[2]] : 1);
}

// Prometheus durations ("15s", "1m30s") and leakwatch durations ("250ms", "1.5s", "2m") -> seconds.
function parseDuration(s) {
  const text = String(s ?? "");
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/gy;
  const unit = { ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  let total = 0;
  let m;
  let end = 0;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * unit[m[2]];
    end = re.lastIndex;
  }
  if (text === "0") return 0;
  return end > 0 && end === text.length ? total : undefined;
}

const isUnder = (file, dir) => {
  const rel = path.posix.relative(dir, file);
  return rel !== "" && !rel.startsWith("..") && !path.posix.isAbsolute(rel);
};

// The agent config a Deployment's container reads: {text, source} or undefined.
function agentConfigText(configMaps, name, key) {
  const cm = configMaps.get(name);
  if (!cm) return undefined;
  const text = cm.data?.data?.[key];
  return text === undefined ? undefined : { text, source: cm };
}

function checkDeployment(dep, ctx) {
  const spec = dep.data.spec ?? {};
  const podLabels = spec.template?.metadata?.labels ?? {};
  if (!labelsMatch(spec.selector?.matchLabels, podLabels)) {
    dep.report(`spec.selector.matchLabels ${fmtLabels(spec.selector?.matchLabels)} do not select the pod ` +
               `template's labels ${fmtLabels(podLabels)}`, ["spec", "selector"]);
  }
  const pod = podSpecOf(dep) ?? {};
  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
  const podSc = pod.securityContext ?? {};

  (pod.containers ?? []).forEach((c, ci) => {
    const at = ["spec", "template", "spec", "containers", ci];
    const cname = `container "${c.name}"`;

    // Hardening: the effective value is the container's, else the pod's.
    const sc = c.securityContext ?? {};
    const eff = (field) => (sc[field] !== undefined ? sc[field] : podSc[field]);
    if (eff("runAsNonRoot") !== true) dep.report(`${cname}: securityContext.runAsNonRoot must be true`, [...at, "securityContext"]);
    if (sc.readOnlyRootFilesystem !== true) {
      dep.report(`${cname}: securityContext.readOnlyRootFilesystem must be true`, [...at, "securityContext"]);
    }
    if (sc.allowPrivilegeEscalation !== false) {
      dep.report(`${cname}: securityContext.allowPrivilegeEscalation must be false`, [...at, "securityContext"]);
    }
    if (!(sc.capabilities?.drop ?? []).includes("ALL")) {
      dep.report(`${cname}: securityContext.capabilities.drop must contain ALL`, [...at, "securityContext"]);
    }
    if (sc.privileged === true) dep.report(`${cname}: securityContext.privileged must not be true`, [...at, "securityContext"]);
    const seccomp = eff("seccompProfile")?.type;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") {
      dep.report(`${cname}: securityContext.seccompProfile.type must be RuntimeDefault or Localhost ` +
                 `(got ${seccomp ?? "none"})`, [...at, "securityContext"]);
    }
    if (!c.resources?.limits?.memory) {
      dep.report(`${cname}: resources.limits.memory is missing: the agent measures the working set against ` +
                 `the memory limit`, [...at, "resources"]);
    }

    const env = new Map((c.env ?? []).map((e) => [e.name, e]));
    const configPath = env.get("LEAKWATCH_CONFIG")?.value;
    if (configPath === undefined) return;  // not a container with the agent configured by file
    const mounts = c.volumeMounts ?? [];
    const mountOf = (file) =>
      mounts.filter((m) => isUnder(file, m.mountPath)).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];

    // The config file: a ConfigMap volume mounted at its directory, the key its file name.
    let agent;  // the parsed agent config, when the ConfigMap is among the files
    const envAt = [...at, "env", (c.env ?? []).findIndex((e) => e.name === "LEAKWATCH_CONFIG")];
    if (!path.posix.isAbsolute(configPath)) {
      dep.report(`${cname}: LEAKWATCH_CONFIG "${configPath}" is not an absolute path`, envAt);
    } else {
      const dir = path.posix.dirname(configPath);
      const mi = mounts.findIndex((m) => m.mountPath === dir || m.mountPath === `${dir}/`);
      const m = mounts[mi];
      if (!m) {
        dep.report(`${cname}: no volume is mounted at ${dir}, the directory of LEAKWATCH_CONFIG=${configPath} ` +
                   `(mounts: ${mounts.map((x) => x.mountPath).join(", ") || "none"})`, envAt);
      } else {
        const mAt = [...at, "volumeMounts", mi];
        if (m.subPath || m.subPathExpr) {
          dep.report(`${cname}: the config volume is mounted with subPath: the agent would never see an ` +
                     `update of the ConfigMap`, mAt);
        }
        if (m.readOnly !== true) dep.report(`${cname}: the config volume should be mounted readOnly`, mAt);
        const vol = volumes.get(m.name);
        const cmName = vol?.configMap?.name;
        if (!vol) {
          dep.report(`${cname}: volumeMount "${m.name}" names no volume of the pod`, mAt);
        } else if (!cmName) {
          dep.report(`${cname}: volume "${m.name}" holding LEAKWATCH_CONFIG is not a configMap volume`, mAt);
        } else {
          const fileName = path.posix.basename(configPath);
          const item = (vol.configMap.items ?? []).find((it) => it.path === fileName);
          const key = item ? item.key : fileName;
          if (vol.configMap.items && !item) {
            dep.report(`${cname}: configMap volume "${m.name}" has items but none with path ${fileName}`, mAt);
          }
          if (ctx.configMaps.has(cmName)) {
            const found = agentConfigText(ctx.configMaps, cmName, key);
            if (!found) {
              dep.report(`${cname}: ConfigMap ${cmName} has no key "${key}" for LEAKWATCH_CONFIG=${configPath} ` +
                         `(keys: ${Object.keys(ctx.configMaps.get(cmName).data?.data ?? {}).join(", ")})`, mAt);
            } else {
              try {
                agent = parseYaml(found.text) ?? {};
              } catch (e) {
                found.source.report(`the agent config (key ${key}) is not valid YAML: ${firstLine(e.message)}`);
              }
            }
          } else if (ctx.complete) {
            dep.report(`${cname}: volume "${m.name}" names ConfigMap ${cmName}, which none of the files defines ` +
                       `or generates`, mAt);
          }
        }
      }
    }
    if (!agent) return;

    // The listener: the port the agent binds is a declared container port.
    const listen = String(env.get("LEAKWATCH_LISTEN")?.value ?? agent.http?.listen ?? AGENT_DEFAULTS.listen);
    if (listen !== "off") {
      const port = Number(listen.split(":").pop());
      const host = listen.includes(":") ? listen.slice(0, listen.lastIndexOf(":")) : "";
      if (!(c.ports ?? []).some((p) => p.containerPort === port)) {
        dep.report(`${cname}: the agent listens on ${listen} but no container port is ${port}`, [...at, "ports"]);
      }
      if (host === "127.0.0.1" || host === "localhost") {
        dep.report(`${cname}: the agent listens on ${listen}: Prometheus cannot reach loopback from outside ` +
                   `the pod (use 0.0.0.0, or a TLS proxy sidecar as docs/SECURITY.md describes)`, [...at, "ports"]);
      }
    }
    ctx.requestTimeoutSeconds = parseDuration(agent.http?.request_timeout) ?? AGENT_DEFAULTS.requestTimeoutSeconds;

    // The bundle directory: on a writable volume (the root filesystem is read-only), sized for retention.
    const bundleDir = String(agent.bundle?.dir ?? AGENT_DEFAULTS.bundleDir);
    const bm = mounts.find((m) => m.mountPath === bundleDir) ?? mountOf(bundleDir);
    if (!bm) {
      dep.report(`${cname}: bundle.dir ${bundleDir} is on no volume: the root filesystem is read-only and ` +
                 `bundles would be lost with the container`, [...at, "volumeMounts"]);
    } else {
      const bAt = [...at, "volumeMounts", mounts.indexOf(bm)];
      if (bm.readOnly === true) dep.report(`${cname}: bundle.dir ${bundleDir} is on a read-only mount`, bAt);
      const vol = volumes.get(bm.name);
      if (vol?.emptyDir) {
        if (vol.emptyDir.medium === "Memory") {
          dep.report(`${cname}: the bundle volume is a tmpfs (medium: Memory): its pages count against the ` +
                     `memory limit the bundles warn about`, bAt);
        }
        const limit = parseQuantity(vol.emptyDir.sizeLimit);
        const maxBytes = parseAgentSize(agent.bundle?.max_bytes ?? "") ?? AGENT_DEFAULTS.bundleMaxBytes;
        if (limit === undefined) {
          dep.report(`${cname}: the bundle emptyDir "${bm.name}" has no sizeLimit`, bAt);
        } else if (maxBytes > limit / 2) {
          dep.report(`${cname}: bundle.max_bytes (${maxBytes} bytes) is more than half the bundle volume's ` +
                     `sizeLimit ${vol.emptyDir.sizeLimit}: the bundle being written comes on top of the ones ` +
                     `kept, and the kubelet evicts the pod past sizeLimit`, bAt);
        }
      } else if (vol && !vol.persistentVolumeClaim && !vol.ephemeral && !vol.hostPath) {
        dep.report(`${cname}: the bundle volume "${bm.name}" is not an emptyDir or a claim`, bAt);
      }
    }

    // The debug token: a file on a Secret volume, the key present when the Secret is among the files.
    const tokenFile = env.get("LEAKWATCH_DEBUG_TOKEN_FILE")?.value ?? agent.http?.debug_token_file;
    if (tokenFile) {
      const tm = mountOf(tokenFile);
      const vol = tm && volumes.get(tm.name);
      if (!vol?.secret) {
        dep.report(`${cname}: the debug token file ${tokenFile} is not on a Secret volume`, [...at, "volumeMounts"]);
      } else {
        const rel = path.posix.relative(tm.mountPath, tokenFile);
        const item = (vol.secret.items ?? []).find((it) => it.path === rel);
        if (vol.secret.items && !item) {
          dep.report(`${cname}: Secret volume "${tm.name}" has no item with path ${rel} (the token file ` +
                     `${tokenFile})`, [...at, "volumeMounts"]);
        }
        const secret = ctx.secrets.get(vol.secret.secretName);
        const key = item ? item.key : rel;
        if (secret && !(key in (secret.data.data ?? {})) && !(key in (secret.data.stringData ?? {}))) {
          secret.report(`has no key "${key}", which ${dep.label} mounts as the debug token file ${tokenFile}`);
        }
      }
    }
  });
}

function checkService(svc, ctx) {
  const selector = svc.data.spec?.selector;
  const target = ctx.deployments.find((d) => labelsMatch(selector, d.data.spec?.template?.metadata?.labels));
  if (!target) {
    svc.report(`spec.selector ${fmtLabels(selector)} selects the pods of no Deployment in these files ` +
               `(pod labels: ${ctx.deployments.map((d) => fmtLabels(d.data.spec?.template?.metadata?.labels)).join(", ") || "none"})`,
               ["spec", "selector"]);
    return;
  }
  const containerPorts = allContainers(podSpecOf(target)).flatMap((c) => c.ports ?? []);
  (svc.data.spec?.ports ?? []).forEach((p, i) => {
    const tp = p.targetPort ?? p.port;
    const ok = typeof tp === "string" ? containerPorts.some((cp) => cp.name === tp)
                                      : containerPorts.some((cp) => cp.containerPort === tp);
    if (!ok) {
      svc.report(`spec.ports.${i}.targetPort ${JSON.stringify(tp)} is no container port of ${target.label} ` +
                 `(has: ${containerPorts.map((cp) => `${cp.name ?? "?"}=${cp.containerPort}`).join(", ")})`,
                 ["spec", "ports", i, "targetPort"]);
    }
  });
}

// The scrape settings every monitor endpoint needs for leakwatch's alerts and the agent's timeout.
function checkEndpointSettings(mon, endpoint, at, ctx) {
  const interval = parseDuration(endpoint.interval);
  const timeout = parseDuration(endpoint.scrapeTimeout);
  if (endpoint.scrapeTimeout !== undefined && timeout === undefined) {
    mon.report(`${at.join(".")}.scrapeTimeout "${endpoint.scrapeTimeout}" is not a duration`, [...at, "scrapeTimeout"]);
  }
  if (timeout !== undefined && timeout <= ctx.requestTimeoutSeconds) {
    mon.report(`${at.join(".")}.scrapeTimeout ${endpoint.scrapeTimeout} must be above the agent's ` +
               `http.request_timeout (${ctx.requestTimeoutSeconds}s)`, [...at, "scrapeTimeout"]);
  }
  if (timeout !== undefined && interval !== undefined && timeout > interval) {
    mon.report(`${at.join(".")}.scrapeTimeout ${endpoint.scrapeTimeout} is longer than the interval ` +
               `${endpoint.interval}`, [...at, "scrapeTimeout"]);
  }
  const setsJob = (endpoint.relabelings ?? []).some(
    (r) => r.targetLabel === "job" && (r.action ?? "replace") === "replace" && r.replacement === "leakwatch" &&
           (r.sourceLabels ?? []).length === 0);
  if (!setsJob) {
    mon.report(`${at.join(".")}: no relabeling sets job="leakwatch" (action: replace, targetLabel: job, ` +
               `replacement: leakwatch); leakwatch's alert rules select that job`, at);
  }
}

function checkServiceMonitor(mon, ctx) {
  const selector = mon.data.spec?.selector?.matchLabels;
  const services = ctx.services.filter((s) => labelsMatch(selector, s.data.metadata?.labels));
  if (services.length === 0) {
    mon.report(`spec.selector.matchLabels ${fmtLabels(selector)} select no Service in these files ` +
               `(Service labels: ${ctx.services.map((s) => fmtLabels(s.data.metadata?.labels)).join(", ") || "none"})`,
               ["spec", "selector"]);
  }
  (mon.data.spec?.endpoints ?? []).forEach((e, i) => {
    const at = ["spec", "endpoints", i];
    for (const s of services) {
      const names = (s.data.spec?.ports ?? []).map((p) => p.name);
      if (!names.includes(e.port)) {
        mon.report(`spec.endpoints.${i}.port "${e.port}" is no port of ${s.label} (has: ${names.join(", ")})`,
                   [...at, "port"]);
      }
    }
    checkEndpointSettings(mon, e, at, ctx);
  });
}

function checkPodMonitor(mon, ctx) {
  const selector = mon.data.spec?.selector?.matchLabels;
  const targets = ctx.deployments.filter((d) => labelsMatch(selector, d.data.spec?.template?.metadata?.labels));
  if (targets.length === 0) {
    mon.report(`spec.selector.matchLabels ${fmtLabels(selector)} select the pods of no Deployment in these files`,
               ["spec", "selector"]);
  }
  (mon.data.spec?.podMetricsEndpoints ?? []).forEach((e, i) => {
    const at = ["spec", "podMetricsEndpoints", i];
    for (const d of targets) {
      const names = allContainers(podSpecOf(d)).flatMap((c) => c.ports ?? []).map((p) => p.name);
      if (!names.includes(e.port)) {
        mon.report(`spec.podMetricsEndpoints.${i}.port "${e.port}" is no container port of ${d.label} ` +
                   `(has: ${names.join(", ")})`, [...at, "port"]);
      }
    }
    checkEndpointSettings(mon, e, at, ctx);
  });
}

// ----- main -----

function main(files) {
  if (files.length === 0) {
    console.error("usage: node validate.mjs FILE...   (Kubernetes manifests, a kustomization.yaml)");
    return 2;
  }
  const perFile = files.map((file) => ({ file, abs: path.resolve(file), docs: readDocs(file) }));

  // Kustomizations first: the files their configMapGenerators name are agent configs, not manifests.
  const generated = [];
  for (const { docs } of perFile) {
    for (const doc of docs) {
      if (`${doc.data?.apiVersion}/${doc.data?.kind}` === KUSTOMIZATION) generated.push(...checkKustomization(doc));
    }
  }

  const valid = [];
  // The ConfigMaps the generators make, whether or not their files were given on the command line.
  for (const g of generated) {
    const cm = new Doc(path.relative(process.cwd(), g.file) || g.file, 1,
                       { apiVersion: "v1", kind: "ConfigMap", metadata: { name: g.name },
                         data: { [g.key]: fs.readFileSync(g.file, "utf8") } });
    if (validateSchema(cm)) valid.push(cm);
  }
  for (const { abs, docs } of perFile) {
    if (generated.some((g) => g.file === abs)) continue;  // data of a generated ConfigMap, not a manifest
    for (const doc of docs) {
      if (validateSchema(doc)) valid.push(doc);
    }
  }

  const byKind = (kind) => valid.filter((d) => d.data.kind === kind);
  const ctx = {
    generated,
    deployments: byKind("Deployment"),
    services: byKind("Service"),
    configMaps: new Map(byKind("ConfigMap").map((d) => [d.name, d])),
    secrets: new Map(byKind("Secret").map((d) => [d.name, d])),
    // The ConfigMap a pod mounts must be among the files only when a kustomization or ConfigMap is (a lone
    // Deployment may be checked on its own).
    complete: generated.length > 0 || byKind("ConfigMap").length > 0,
    requestTimeoutSeconds: AGENT_DEFAULTS.requestTimeoutSeconds,
  };
  for (const g of generated.filter((x) => x.hashed)) {
    const user = ctx.deployments.find((d) => (podSpecOf(d)?.volumes ?? []).some((v) => v.configMap?.name === g.name));
    if (user) {
      g.doc.report(`configMapGenerator ${g.name}: generated with a name hash, so an edit rolls every pod of ` +
                   `${user.label} instead of letting the agent reload its config (set ` +
                   `options.disableNameSuffixHash: true)`, ["configMapGenerator", g.index]);
    }
  }
  for (const d of ctx.deployments) checkDeployment(d, ctx);
  for (const s of ctx.services) checkService(s, ctx);
  for (const m of byKind("ServiceMonitor")) checkServiceMonitor(m, ctx);
  for (const m of byKind("PodMonitor")) checkPodMonitor(m, ctx);

  for (const p of problems) console.log(p);
  const objects = valid.length;
  if (problems.length > 0) {
    console.log(`${problems.length} problem(s) in ${files.length} file(s)`);
    return 1;
  }
  console.log(`ok: ${objects} object(s) in ${files.length} file(s)`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));

/**
 * `kirin export`: the Kubernetes manifests validated against the Kubernetes
 * API's JSON schema (kubernetes-models, generated from the official OpenAPI
 * spec), the Dockerfile checked by a Dockerfile linter and parser (no Docker
 * engine runs here, so it is not built), the compose file read back, and the
 * container configs evaluated by Kirin's own config loader.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { DockerfileParser } from 'dockerfile-ast';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { Ingress, type IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { loadConfigFile } from '../../src/config/load.ts';
import { normalizeConfig } from '../../src/config/normalize.ts';
import type { ServePlan } from '../../src/config/plan.ts';
import { buildComposeFile } from '../../src/ops/export/compose.ts';
import { STATE_DIR } from '../../src/ops/export/container-config.ts';
import { buildDockerExport, DOCKER_CONFIG_NAME, publishSpec } from '../../src/ops/export/docker.ts';
import { ADMIN_PORT, buildK8sExport, CLUSTER_PROXIES, HTTP_PORT, K8S_CONFIG_NAME, yamlStream } from '../../src/ops/export/k8s.ts';
import { readProjectFacts, type ProjectFacts } from '../../src/ops/export/project.ts';
import { exportedFileState, writeExportFiles } from '../../src/ops/export/write-files.ts';
import { tempDir, writeFiles } from '../support/kirin.ts';

const execFileAsync = promisify(execFile);

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'networking.k8s.io/v1/Ingress': Ingress,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

/** Validates one parsed manifest against the Kubernetes API schema for its apiVersion and kind. */
function validateManifest(object: { apiVersion: string; kind: string }): void {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  assert.ok(Model, `no schema for ${object.apiVersion} ${object.kind}`);
  new Model(object as never).validate();
}

const CONFIG = {
  envFiles: ['.env'],
  gracefulTimeout: '25s',
  listen: { http: [':80'], https: [':443'] },
  tls: { email: 'admin@example.com' },
  sites: {
    'example.com, www.example.com': { '/static/': { static: './public' }, '/': { app: './app.ts' } },
    'api.example.com': { '/': { app: './api.ts' } },
  },
};

function project(config: Record<string, unknown> | string = CONFIG, configName = 'kirin.config.json', pkg: Record<string, unknown> = { name: '@acme/Shop_Site', dependencies: { kirin: '^0.1.0' } }) {
  const dir = tempDir('kirin-export-');
  writeFiles(dir, {
    'package.json': JSON.stringify(pkg),
    'package-lock.json': '{}',
    [`site/${configName}`]: typeof config === 'string' ? config : JSON.stringify(config),
    'site/.env': 'SECRET_KEY=x\n',
    'site/app.ts': 'export default { fetch: () => new Response("ok") };\n',
    'site/api.ts': 'export default { fetch: () => new Response("api") };\n',
    'site/public/a.css': 'a{}\n',
  });
  const file = join(dir, 'site', configName);
  return { dir, file };
}

async function planFor(file: string, raw?: unknown): Promise<{ plan: ServePlan; facts: ProjectFacts }> {
  const config = raw ?? (await loadConfigFile(file));
  const plan = normalizeConfig({ raw: config, file, cwd: resolve(file, '..'), env: { STATE_DIRECTORY: STATE_DIR } });
  return { plan, facts: readProjectFacts(plan.baseDir, file) };
}

function k8sFor(plan: ServePlan, facts: ProjectFacts) {
  return buildK8sExport({ plan, project: facts, app: null, image: 'registry.example.com/shop:1.0', replicas: 3, maxReplicas: 12, workers: 2, trustedProxies: CLUSTER_PROXIES, ingressClass: 'nginx', clusterIssuer: 'letsencrypt', applyPath: 'deploy/k8s' });
}

describe('kirin export k8s', () => {
  let objects: Record<string, Record<string, any>>;
  let files: { path: string; text: string }[];
  let dir: string;
  before(async () => {
    const p = project();
    dir = p.dir;
    const { plan, facts } = await planFor(p.file);
    const k8s = k8sFor(plan, facts);
    files = k8s.files;
    objects = {};
    for (const file of files) for (const doc of parseAllDocuments(file.text)) objects[doc.toJS().kind] = doc.toJS();
  });

  it('writes each object as YAML that validates against the Kubernetes API schema', () => {
    assert.deepEqual(files.map((f) => f.path), ['k8s/configmap.yaml', 'k8s/deployment.yaml', 'k8s/service.yaml', 'k8s/ingress.yaml', 'k8s/hpa.yaml', 'k8s/pdb.yaml']);
    assert.deepEqual(Object.keys(objects).sort(), ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Ingress', 'PodDisruptionBudget', 'Service']);
    for (const object of Object.values(objects)) validateManifest(object as never);
    for (const file of files) assert.doesNotMatch(file.text, /[&*]a\d/, 'no YAML anchors');
  });

  it('the schema check can fail: a wrong type or a missing required field is refused', () => {
    const broken = structuredClone(objects.Deployment!);
    broken.spec.replicas = 'three';
    assert.throws(() => validateManifest(broken as never), /replicas must be integer/);
    const noContainers = structuredClone(objects.Deployment!);
    delete noContainers.spec.template.spec.containers[0].name;
    assert.throws(() => validateManifest(noContainers as never), /name/);
  });

  it('the Deployment: probes on the admin listener, preStop wait, grace above the graceful timeout, non-root', () => {
    const deployment = objects.Deployment as IDeployment;
    const pod = deployment.spec!.template.spec!;
    const container = pod.containers[0]!;
    assert.equal(deployment.spec!.replicas, 3);
    assert.deepEqual(container.readinessProbe!.httpGet, { path: '/readyz', port: 'admin' });
    assert.deepEqual(container.livenessProbe!.httpGet, { path: '/healthz', port: 'admin' });
    assert.deepEqual(container.ports!.map((p) => [p.name, p.containerPort]), [['http', HTTP_PORT], ['admin', ADMIN_PORT]]);
    const preStop = container.lifecycle!.preStop!.exec!.command!;
    assert.equal(preStop[0], 'sleep');
    assert.ok(pod.terminationGracePeriodSeconds! > Number(preStop[1]) + 25, 'grace period covers preStop and the 25 s graceful timeout');
    assert.equal(pod.securityContext!.runAsNonRoot, true);
    assert.equal(container.securityContext!.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext!.capabilities!.drop, ['ALL']);
    assert.ok(container.resources!.requests!.cpu && container.resources!.requests!.memory && container.resources!.limits!.memory);
    assert.deepEqual(container.envFrom, [{ secretRef: { name: 'shop-site-env' } }]);
    assert.equal(container.image, 'registry.example.com/shop:1.0');
    assert.deepEqual(container.command!.slice(-2), ['--config', `/app/site/${K8S_CONFIG_NAME}`]);
  });

  it('the pieces fit: ConfigMap key → mount, Service → pod labels, Ingress → Service port, HPA and PDB → Deployment', () => {
    const deployment = objects.Deployment as IDeployment;
    const pod = deployment.spec!.template;
    const mount = pod.spec!.containers[0]!.volumeMounts!.find((m) => m.name === 'config')!;
    const volume = pod.spec!.volumes!.find((v) => v.name === 'config')!;
    assert.equal(volume.configMap!.name, objects.ConfigMap!.metadata.name);
    assert.ok(Object.keys(objects.ConfigMap!.data).includes(mount.subPath!));
    for (const selector of [objects.Service!.spec.selector, objects.PodDisruptionBudget!.spec.selector.matchLabels, deployment.spec!.selector.matchLabels]) {
      for (const [key, value] of Object.entries(selector as Record<string, string>)) assert.equal(pod.metadata!.labels![key], value);
    }
    const ingress = objects.Ingress as IIngress;
    assert.deepEqual(ingress.spec!.rules!.map((r) => r.host), ['example.com', 'www.example.com', 'api.example.com']);
    assert.deepEqual(ingress.spec!.tls![0]!.hosts, ['example.com', 'www.example.com', 'api.example.com']);
    assert.equal(ingress.spec!.ingressClassName, 'nginx');
    assert.equal(ingress.metadata!.annotations!['cert-manager.io/cluster-issuer'], 'letsencrypt');
    const backend = ingress.spec!.rules![0]!.http!.paths[0]!.backend.service!;
    assert.equal(backend.name, objects.Service!.metadata.name);
    assert.ok(objects.Service!.spec.ports.some((p: { name: string }) => p.name === backend.port!.name));
    assert.deepEqual(objects.HorizontalPodAutoscaler!.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata!.name });
    assert.equal(objects.HorizontalPodAutoscaler!.spec.minReplicas, 3);
  });

  it("the ConfigMap's config, loaded by Kirin in the pod: TLS off, plain HTTP :8000, admin with the Secret's token", async () => {
    const source = objects.ConfigMap!.data[K8S_CONFIG_NAME] as string;
    assert.match(source, /TLS and routing between pods belong to the cluster's ingress/);
    const file = join(dir, 'site', K8S_CONFIG_NAME);
    writeFileSync(file, source);
    const token = 'k8s-admin-token-from-the-secret-0123456789';
    process.env.KIRIN_ADMIN_TOKEN = token;
    let raw: unknown;
    try {
      raw = await loadConfigFile(file);
    } finally {
      delete process.env.KIRIN_ADMIN_TOKEN;
    }
    const plan = normalizeConfig({ raw, file, cwd: join(dir, 'site'), env: { STATE_DIRECTORY: STATE_DIR, WEB_CONCURRENCY: '2' } });
    assert.deepEqual(plan.listen.http.map((a) => a.spec), [`:${HTTP_PORT}`]);
    assert.deepEqual(plan.listen.https, []);
    assert.deepEqual(plan.sites.map((s) => s.tls.mode), ['off', 'off']);
    assert.equal(plan.admin!.listen.port, ADMIN_PORT);
    assert.equal(plan.admin!.token, token);
    assert.equal(plan.workers, 2);
    assert.deepEqual(plan.envFiles, []);
    assert.equal(plan.stateDir, STATE_DIR);
    assert.deepEqual(plan.trustedProxies, CLUSTER_PROXIES);
    assert.equal(plan.accessLog, '-');
    assert.equal((plan.sites[0]!.routes.find((r) => r.prefix === '/')!.handler as { module: string }).module, join(dir, 'site', 'app.ts'), 'relative paths keep their meaning');
  });

  it('prints one multi-document stream for kubectl apply -f -', () => {
    const p = project();
    return planFor(p.file).then(({ plan, facts }) => {
      const k8s = k8sFor(plan, facts);
      const docs = parseAllDocuments(yamlStream(k8s.objects, 'x'));
      assert.equal(docs.length, 6);
      for (const doc of docs) validateManifest(doc.toJS());
    });
  });
});

describe('kirin export docker', () => {
  it('a Dockerfile the linter accepts: two stages, non-root, HEALTHCHECK, STOPSIGNAL SIGTERM, exec-form CMD', async () => {
    const p = project();
    const { plan, facts } = await planFor(p.file);
    const docker = buildDockerExport({ plan, project: facts, outDir: 'deploy', app: null, nodeMajor: 24 });
    const dockerfile = docker.files.find((f) => f.path === 'Dockerfile')!.text;
    assert.deepEqual(lintDockerfile(dockerfile), []);
    const parsed = DockerfileParser.parse(dockerfile);
    assert.deepEqual(parsed.getFROMs().map((f) => [f.getImageName(), f.getImageTag(), f.getBuildStage()]), [['node', '24-slim', 'build'], ['node', '24-slim', null]]);
    const final = parsed.getInstructions().slice(parsed.getInstructions().findIndex((i, n) => i.getKeyword() === 'FROM' && n > 0));
    const keyword = (k: string) => final.filter((i) => i.getKeyword() === k).map((i) => i.getArgumentsContent()!);
    assert.deepEqual(keyword('USER'), ['node']);
    assert.deepEqual(keyword('STOPSIGNAL'), ['SIGTERM']);
    assert.deepEqual(keyword('EXPOSE'), ['80 443']);
    assert.match(keyword('HEALTHCHECK')[0]!, /127\.0\.0\.1:9180\/healthz/);
    assert.deepEqual(JSON.parse(keyword('CMD')[0]!), ['node', '/app/node_modules/kirin/dist/cli/bin.js', 'serve', '--config', `/app/site/${DOCKER_CONFIG_NAME}`]);
    assert.ok(keyword('COPY').includes(`deploy/${DOCKER_CONFIG_NAME} /app/site/${DOCKER_CONFIG_NAME}`));
    assert.match(dockerfile, /RUN npm ci --omit=dev/);
    assert.match(dockerfile, /ENV NODE_ENV=production STATE_DIRECTORY=\/var\/lib\/kirin/);
  });

  it('the HEALTHCHECK command exits 0 on a healthy answer and 1 otherwise', async () => {
    const p = project();
    const { plan, facts } = await planFor(p.file);
    const dockerfile = buildDockerExport({ plan, project: facts, outDir: 'deploy', app: null, nodeMajor: 24 }).files[0]!.text;
    const argv = JSON.parse(/^HEALTHCHECK .* CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    let status = 200;
    const server = createServer((req, res) => res.writeHead(req.url === '/healthz' ? status : 404).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const script = argv[2]!.replace('127.0.0.1:9180', `127.0.0.1:${port}`);
    try {
      await execFileAsync(process.execPath, ['-e', script]);
      status = 503;
      await assert.rejects(execFileAsync(process.execPath, ['-e', script]), (e: { code: number }) => e.code === 1);
    } finally {
      server.close();
    }
  });

  it('a build script gets a build stage; the ignore file keeps secrets out; a guard fails old builders', async () => {
    const p = project(CONFIG, 'kirin.config.json', { name: 'shop', scripts: { build: 'vite build' }, dependencies: { kirin: '1' } });
    const { plan, facts } = await planFor(p.file);
    const docker = buildDockerExport({ plan, project: facts, outDir: 'deploy', app: null, nodeMajor: 24 });
    const dockerfile = docker.files[0]!.text;
    assert.match(dockerfile, /RUN npm ci\nCOPY \. \.\n.*\nRUN npm run build && npm prune --omit=dev/);
    assert.match(dockerfile, /if \[ -e \.env \] \|\| \[ -e \.git \]; then .* exit 1; fi/);
    const ignore = docker.files.find((f) => f.path === 'Dockerfile.dockerignore')!.text.split('\n');
    for (const entry of ['.env', '.env.*', '.git', 'node_modules']) assert.ok(ignore.includes(entry), entry);
  });

  it('a loopback-only config listens on every address in the container and is published on the host\'s loopback only; kirin missing from dependencies is said', async () => {
    const p = project({ listen: { http: ['127.0.0.1:8000'] }, sites: { '*': { '/': { app: './app.ts' } } } }, 'kirin.config.json', { name: 'x' });
    const { plan, facts } = await planFor(p.file);
    const docker = buildDockerExport({ plan, project: facts, outDir: 'deploy', app: null, nodeMajor: 24 });
    assert.equal(
      docker.notes[0],
      "the config listens on 127.0.0.1:8000, loopback only: inside the container Kirin listens on :8000, and the port is published on the host's 127.0.0.1 only (-p 127.0.0.1:8000:8000), so only this machine reaches it, as with the config; to take traffic from other machines, listen on every address in the config (':8000')",
    );
    assert.match(docker.notes.join('\n'), /kirin is not in package\.json/);
    assert.deepEqual(docker.published, [{ host: '127.0.0.1', port: 8000 }]);
    assert.match(docker.files[0]!.text, /docker run --init -p 127\.0\.0\.1:8000:8000 --env-file \.env x$/m);
    const compose = buildComposeFile({ plan, project: facts, outDir: join(p.dir, 'deploy'), published: docker.published });
    assert.deepEqual((parseYaml(compose.text) as { services: Record<string, { ports: string[] }> }).services.x!.ports, ['127.0.0.1:8000:8000']);
    const configFile = join(p.dir, 'site', DOCKER_CONFIG_NAME);
    writeFileSync(configFile, docker.files.find((f) => f.path === DOCKER_CONFIG_NAME)!.text);
    const raw = await loadConfigFile(configFile);
    const containerPlan = normalizeConfig({ raw, file: configFile, cwd: join(p.dir, 'site'), env: { STATE_DIRECTORY: STATE_DIR } });
    assert.deepEqual(containerPlan.listen.http.map((a) => a.spec), [':8000']);
    assert.equal(containerPlan.stateDir, STATE_DIR);
  });

  it('a LAN address is published on that address; TLS listeners stay TLS inside the container', async () => {
    const p = project({ listen: { http: ['192.168.1.20:80', '127.0.0.1:8080'], https: ['192.168.1.20:443'] }, sites: { 'a.test': { '/': { app: './app.ts' } } } });
    const { plan, facts } = await planFor(p.file);
    const docker = buildDockerExport({ plan, project: facts, outDir: 'deploy', app: null, nodeMajor: 24 });
    assert.deepEqual(docker.published.map(publishSpec), ['192.168.1.20:80:80', '127.0.0.1:8080:8080', '192.168.1.20:443:443']);
    assert.match(docker.notes[0]!, /^the config listens on 192\.168\.1\.20:80, 127\.0\.0\.1:8080, 192\.168\.1\.20:443, addresses a container does not have/);
    const configFile = join(p.dir, 'site', DOCKER_CONFIG_NAME);
    writeFileSync(configFile, docker.files.find((f) => f.path === DOCKER_CONFIG_NAME)!.text);
    const containerPlan = normalizeConfig({ raw: await loadConfigFile(configFile), file: configFile, cwd: join(p.dir, 'site'), env: { STATE_DIRECTORY: STATE_DIR } });
    assert.deepEqual(containerPlan.listen.http.map((a) => a.spec), [':80', ':8080']);
    assert.deepEqual(containerPlan.listen.https.map((a) => a.spec), [':443']);
  });

  it('warns, naming the key, when a proxy upstream is on loopback (in a container that is the container itself)', async () => {
    const p = project({
      services: { api: 'node api.ts --port {port}' },
      sites: {
        'a.test': {
          '/api/': { proxy: { to: ['http://127.0.0.1:9001', 'http://10.0.0.5:9002', 'http://localhost:9003'] } },
          '/svc/': { proxy: { service: 'api' } },
          '/': { app: './app.ts' },
        },
      },
    });
    const { plan, facts } = await planFor(p.file);
    const docker = buildDockerExport({ plan, project: facts, outDir: 'deploy', app: null, nodeMajor: 24 });
    assert.deepEqual(docker.warnings, [
      'sites["a.test"]["/api/"].proxy.to[0] is http://127.0.0.1:9001: inside the container, 127.0.0.1 is the container itself and nothing listens there; point it at the upstream\'s container (compose: its service name, e.g. http://api:9001), at this machine (http://host.docker.internal:9001 with extra_hosts: ["host.docker.internal:host-gateway"]), or run it as one of Kirin\'s services',
      'sites["a.test"]["/api/"].proxy.to[2] is http://localhost:9003: inside the container, localhost is the container itself and nothing listens there; point it at the upstream\'s container (compose: its service name, e.g. http://api:9003), at this machine (http://host.docker.internal:9003 with extra_hosts: ["host.docker.internal:host-gateway"]), or run it as one of Kirin\'s services',
    ]);
  });
});

describe('writing exported files', () => {
  const files = [
    { path: 'Dockerfile', text: '# syntax=docker/dockerfile:1\n# Generated by `kirin export docker` (Kirin 0.1.0).\nFROM node:24-slim\n' },
    { path: 'kirin.container.config.mjs', text: '// Generated by `kirin export docker` (Kirin 0.1.0).\nexport default {};\n' },
    { path: 'k8s/service.yaml', text: '# Generated by `kirin export k8s` (Kirin 0.1.0).\napiVersion: v1\n' },
  ];

  it('stamps each file with the hash of what it wrote, below the header (the syntax line stays first)', () => {
    const out = tempDir();
    writeExportFiles(out, files, false);
    const dockerfile = readFileSync(join(out, 'Dockerfile'), 'utf8').split('\n');
    assert.equal(dockerfile[0], '# syntax=docker/dockerfile:1');
    assert.match(dockerfile[2]!, /^# sha256:[0-9a-f]{64} of what kirin export wrote; it replaces this file only while that matches \(or with --force\)$/);
    assert.match(readFileSync(join(out, 'kirin.container.config.mjs'), 'utf8').split('\n')[1]!, /^\/\/ sha256:[0-9a-f]{64} of what/);
    for (const file of files) assert.equal(exportedFileState(readFileSync(join(out, file.path), 'utf8')), 'unchanged', file.path);
  });

  it('replaces files it wrote; refuses an edited file or one it did not write, naming each, and writes nothing; --force replaces them', () => {
    const out = tempDir();
    writeExportFiles(out, files, false);
    assert.deepEqual(writeExportFiles(out, files, false).length, 3, 'an unchanged export is replaced');
    const dockerfile = join(out, 'Dockerfile');
    const edited = readFileSync(dockerfile, 'utf8').replace('FROM node:24-slim', 'FROM node:24-slim\nRUN apt-get install -y libvips');
    writeFileSync(dockerfile, edited);
    writeFileSync(join(out, 'k8s', 'service.yaml'), 'apiVersion: v1\n');
    assert.equal(exportedFileState(edited), 'edited');
    assert.throws(
      () => writeExportFiles(out, [...files].reverse(), false),
      (error: Error) =>
        error.message ===
        `${join(out, 'k8s/service.yaml')} exists and was not written by kirin export\n${dockerfile} was edited since kirin export wrote it\nnothing was written: keep your version (move it away, export, and merge by hand) or add --force to replace them`,
    );
    assert.equal(readFileSync(dockerfile, 'utf8'), edited, 'the edited file is kept');
    writeExportFiles(out, files, true);
    assert.equal(exportedFileState(readFileSync(dockerfile, 'utf8')), 'unchanged');
  });
});

describe('kirin export compose', () => {
  it('one service: build from the Dockerfile, env_file, ports, a state volume, a stop grace above the graceful timeout', async () => {
    const p = project();
    const { plan, facts } = await planFor(p.file);
    const outDir = join(p.dir, 'deploy');
    const docker = buildDockerExport({ plan, project: facts, outDir: 'deploy', app: null, nodeMajor: 24 });
    const compose = buildComposeFile({ plan, project: facts, outDir, published: docker.published });
    assert.match(compose.text, /- "80:80"/);
    const doc = parseYaml(compose.text) as { services: Record<string, Record<string, any>>; volumes: Record<string, unknown> };
    const service = doc.services['shop-site']!;
    assert.equal(resolve(outDir, service.build.context), p.dir);
    assert.equal(resolve(p.dir, service.build.dockerfile), join(outDir, 'Dockerfile'));
    assert.deepEqual(service.env_file.map((f: string) => resolve(outDir, f)), [join(p.dir, 'site', '.env')]);
    assert.deepEqual(service.ports, ['80:80', '443:443']);
    assert.deepEqual(service.volumes, [`kirin-state:${STATE_DIR}`]);
    assert.ok('kirin-state' in doc.volumes);
    assert.equal(service.stop_grace_period, '35s');
    assert.equal(service.init, true);
  });
});

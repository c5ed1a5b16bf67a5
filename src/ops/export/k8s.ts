/**
 * `kirin export k8s`: Deployment, Service, Ingress, HorizontalPodAutoscaler,
 * PodDisruptionBudget and the ConfigMap holding the container config.
 *
 * In a cluster the ingress controller terminates TLS and spreads traffic over
 * the pods, so the exported config turns Kirin's TLS and ACME off and listens
 * on plain HTTP :8000. Kirin keeps doing what a pod does well: its workers,
 * sites by Host, static files, health on the admin listener (:9180, with a
 * token from the Secret, since the kubelet probes it over the pod network).
 *
 * The objects are typed with the Kubernetes API's own types (kubernetes-models,
 * generated from the OpenAPI spec), so a misspelt field fails the build; the
 * tests validate the YAML against the same spec's JSON schema.
 */
import { Document } from 'yaml';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import type { IIngressRule } from 'kubernetes-models/networking.k8s.io/v1/IngressRule';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { ServePlan } from '../../config/plan.ts';
import { WORKER_MEMORY_BYTES } from '../check/process.ts';
import { isPublicHostName } from '../check/sites.ts';
import { containerConfigSource, STATE_DIR } from './container-config.ts';
import { generatedBy, KIRIN_BIN_IN_IMAGE, type ExportFile } from './docker.ts';
import { imagePath, type ProjectFacts } from './project.ts';

export const K8S_CONFIG_NAME = 'kirin.k8s.config.mjs';
export const HTTP_PORT = 8000;
export const ADMIN_PORT = 9180;
export const ADMIN_TOKEN_VARIABLE = 'KIRIN_ADMIN_TOKEN';
/** Pod networks are private ranges; the ingress controller's pods connect from them. */
export const CLUSTER_PROXIES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'];
/** Time for endpoints to drop the pod before Kirin stops accepting: kube-proxy and ingresses update asynchronously. */
export const PRE_STOP_SECONDS = 5;

export interface K8sOptions {
  plan: ServePlan;
  project: ProjectFacts;
  app: string | null;
  image: string;
  replicas: number;
  maxReplicas: number;
  workers: number;
  trustedProxies: string[];
  ingressClass: string | null;
  clusterIssuer: string | null;
  /** The k8s folder as the user types it, for the header: 'deploy/k8s'. */
  applyPath: string;
}

export interface K8sExport {
  files: ExportFile[];
  /** Every object, in apply order (for stdout and the tests). */
  objects: { apiVersion: string; kind: string; [key: string]: unknown }[];
  notes: string[];
}

export function buildK8sExport(options: K8sOptions): K8sExport {
  const { plan, project } = options;
  const name = project.name;
  const labels = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/managed-by': 'kirin' };
  const selector = { 'app.kubernetes.io/name': name };
  const secretName = `${name}-env`;
  const notes = [
    `TLS and routing between pods belong to the cluster's ingress: every site is plain HTTP on :${HTTP_PORT} in the pod, and Kirin requests no certificates`,
    `create the Secret the pods read their environment from: kubectl create secret generic ${secretName} --from-env-file=.env --from-literal=${ADMIN_TOKEN_VARIABLE}="$(npx kirin secret)"`,
  ];

  const config = containerConfigSource({
    command: 'kirin export k8s',
    configName: project.configName,
    app: options.app,
    listen: { http: [`:${HTTP_PORT}`], https: [] },
    tlsOff: true,
    trustedProxies: options.trustedProxies,
    admin: { listen: `:${ADMIN_PORT}`, tokenVariable: ADMIN_TOKEN_VARIABLE },
    workersFromEnv: true,
    explanation: [
      "In Kubernetes, TLS and routing between pods belong to the cluster's ingress: every site is",
      `plain HTTP on :${HTTP_PORT} and Kirin's own certificates (ACME) are off. The admin listener`,
      `(health for the kubelet's probes, metrics) is on :${ADMIN_PORT} with a token from $${ADMIN_TOKEN_VARIABLE}.`,
    ],
  });
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `${name}-config`, labels },
    data: { [K8S_CONFIG_NAME]: config },
  } satisfies IConfigMap;

  const memoryMi = Math.ceil(((options.workers + 1) * WORKER_MEMORY_BYTES) / 1024 / 1024);
  const terminationGrace = PRE_STOP_SECONDS + Math.ceil(plan.gracefulTimeoutMs / 1000) + 10;
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels },
    spec: {
      replicas: options.replicas,
      selector: { matchLabels: selector },
      // A new pod is ready before an old one goes: no capacity lost during a rollout.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels },
        spec: {
          // Above preStop + Kirin's graceful timeout, so Kubernetes never SIGKILLs a draining pod.
          terminationGracePeriodSeconds: terminationGrace,
          // The pause container becomes PID 1 and reaps processes services leave behind.
          shareProcessNamespace: true,
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'kirin',
              image: options.image,
              command: ['node', KIRIN_BIN_IN_IMAGE, 'serve', '--config', imagePath(project, K8S_CONFIG_NAME)],
              ports: [
                { name: 'http', containerPort: HTTP_PORT, protocol: 'TCP' },
                { name: 'admin', containerPort: ADMIN_PORT, protocol: 'TCP' },
              ],
              env: [
                { name: 'NODE_ENV', value: 'production' },
                { name: 'WEB_CONCURRENCY', value: String(options.workers) },
                { name: 'STATE_DIRECTORY', value: STATE_DIR },
              ],
              envFrom: [{ secretRef: { name: secretName } }],
              startupProbe: { httpGet: { path: '/healthz', port: 'admin' }, periodSeconds: 2, failureThreshold: 30 },
              readinessProbe: { httpGet: { path: '/readyz', port: 'admin' }, periodSeconds: 5, failureThreshold: 2 },
              livenessProbe: { httpGet: { path: '/healthz', port: 'admin' }, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 3 },
              // Endpoints and the ingress drop the pod asynchronously; keep serving until they have, then drain.
              lifecycle: { preStop: { exec: { command: ['sleep', String(PRE_STOP_SECONDS)] } } },
              resources: {
                requests: { cpu: `${options.workers * 250}m`, memory: `${memoryMi}Mi` },
                limits: { memory: `${memoryMi * 2}Mi` },
              },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [
                { name: 'config', mountPath: imagePath(project, K8S_CONFIG_NAME), subPath: K8S_CONFIG_NAME, readOnly: true },
                { name: 'state', mountPath: STATE_DIR },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'config', configMap: { name: configMap.metadata.name } },
            { name: 'state', emptyDir: {} },
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
    },
  } satisfies IDeployment;

  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, labels },
    spec: { type: 'ClusterIP', selector, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] },
  } satisfies IService;

  const hosts = [...new Set(plan.sites.flatMap((s) => s.hosts))];
  const backend = { service: { name, port: { name: 'http' } } };
  const path = { path: '/', pathType: 'Prefix' as const, backend };
  const tlsHosts = hosts.filter(isPublicHostName);
  const ingress = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, labels, ...(options.clusterIssuer ? { annotations: { 'cert-manager.io/cluster-issuer': options.clusterIssuer } } : {}) },
    spec: {
      ...(options.ingressClass ? { ingressClassName: options.ingressClass } : {}),
      ...(tlsHosts.length > 0 ? { tls: [{ hosts: tlsHosts, secretName: `${name}-tls` }] } : {}),
      // '*' sites get a rule without a host; Kirin still routes by Host inside the pod.
      rules: hosts.map((host): IIngressRule => (host === '*' ? { http: { paths: [path] } } : { host, http: { paths: [path] } })),
    },
  } satisfies IIngress;
  if (tlsHosts.length > 0 && !options.clusterIssuer) notes.push(`the Ingress expects a TLS Secret ${name}-tls for ${tlsHosts.join(', ')}: use cert-manager (--cluster-issuer NAME adds its annotation) or create it`);

  const hpa = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name, labels },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: options.replicas,
      maxReplicas: options.maxReplicas,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
    },
  } satisfies IHorizontalPodAutoscaler;

  const pdb = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name, labels },
    spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
  } satisfies IPodDisruptionBudget;

  const objects = [configMap, deployment, service, ingress, hpa, pdb];
  const fileNames = ['configmap.yaml', 'deployment.yaml', 'service.yaml', 'ingress.yaml', 'hpa.yaml', 'pdb.yaml'];
  const header = `${generatedBy('kirin export k8s')} Apply: kubectl apply -f ${options.applyPath}/`;
  const files = objects.map((object, i) => ({ path: `k8s/${fileNames[i]}`, text: yamlDocument(object, header) }));
  return { files, objects, notes };
}

export function yamlDocument(object: unknown, comment: string): string {
  // No &anchors: shared label objects are written out in full, as kubectl users expect.
  const document = new Document(object, { aliasDuplicateObjects: false });
  document.commentBefore = ` ${comment}`;
  return document.toString({ lineWidth: 0 });
}

/** All objects as one multi-document stream, for `kirin export k8s --out - | kubectl apply -f -`. */
export function yamlStream(objects: unknown[], comment: string): string {
  return objects.map((o) => yamlDocument(o, comment)).join('---\n');
}

/**
 * `kirin export docker|compose|k8s` — files to run this config in a container,
 * with Compose, or on Kubernetes.
 */
import { relative, resolve, sep } from 'node:path';
import { loadConfigFile } from '../config/load.ts';
import { normalizeConfig } from '../config/normalize.ts';
import { ExitCode, KirinError } from '../errors.ts';
import { buildComposeFile } from '../ops/export/compose.ts';
import { STATE_DIR } from '../ops/export/container-config.ts';
import { buildDockerExport, type ExportFile } from '../ops/export/docker.ts';
import { buildK8sExport, CLUSTER_PROXIES, yamlStream } from '../ops/export/k8s.ts';
import { readProjectFacts } from '../ops/export/project.ts';
import { writeExportFiles } from '../ops/export/write-files.ts';
import { CONFIG_OPTION, integerFlag, parseOpsArgs, resolveServeArgs } from './ops-args.ts';

export const EXPORT_HELP = `Usage: kirin export docker|compose|k8s [PATH[:EXPORT]] [options]

Writes what it takes to run this config elsewhere:
  docker    Dockerfile (two stages, non-root, HEALTHCHECK, STOPSIGNAL SIGTERM),
            Dockerfile.dockerignore (keeps .env, .git, node_modules out) and
            the container config the image runs
  compose   compose.yml (env_file, ports, a volume for certificates) + the docker files
  k8s       k8s/*.yaml: Deployment, Service, Ingress, HorizontalPodAutoscaler,
            PodDisruptionBudget, ConfigMap (TLS is the ingress's job there) + the docker files

Options:
  -c, --config FILE       config file (default: kirin.config.{ts,mts,js,mjs,json} here)
  -o, --out DIR           output folder inside the project (default ./deploy); - prints to stdout
      --force             overwrite files that kirin export did not write
  k8s only:
      --image NAME        container image (default: <package name>:latest)
      --replicas N        pods at least (default 2)
      --max-replicas N    pods at most, for the autoscaler (default 10)
      --workers N         Kirin workers per pod (default 2)
      --trusted-proxy CIDR  the ingress controller's addresses (repeatable;
                          default: the private ranges pod networks use)
      --ingress-class NAME  ingressClassName
      --cluster-issuer NAME cert-manager issuer for the Ingress's certificate
  -h, --help              this help
`;

const TARGETS = ['docker', 'compose', 'k8s'] as const;
type Target = (typeof TARGETS)[number];

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOpsArgs(
    argv,
    {
      ...CONFIG_OPTION,
      out: { type: 'string', short: 'o' },
      force: { type: 'boolean' },
      image: { type: 'string' },
      replicas: { type: 'string' },
      'max-replicas': { type: 'string' },
      workers: { type: 'string' },
      'trusted-proxy': { type: 'string', multiple: true },
      'ingress-class': { type: 'string' },
      'cluster-issuer': { type: 'string' },
    },
    EXPORT_HELP,
    2,
  );
  if (values.help) {
    process.stdout.write(EXPORT_HELP);
    return ExitCode.OK;
  }
  const target = positionals[0] as Target | undefined;
  if (target === undefined || !TARGETS.includes(target)) {
    throw new KirinError('KIRIN_ERR_USAGE', `${target === undefined ? 'export what?' : `unknown target "${target}";`} expected one of ${TARGETS.join(', ')}\n\n${EXPORT_HELP}`);
  }
  const cwd = process.cwd();
  const args = resolveServeArgs(values.config, positionals[1], cwd, EXPORT_HELP);
  // The plan as the container builds it: state in the volume.
  const raw = args.configFile ? await loadConfigFile(args.configFile) : {};
  const plan = normalizeConfig({ raw, file: args.configFile, cwd, app: args.app, overrides: args.overrides, env: { ...process.env, STATE_DIRECTORY: STATE_DIR } });
  const project = readProjectFacts(plan.baseDir, plan.configFile);
  const toStdout = values.out === '-';
  const outDir = resolve(cwd, toStdout ? 'deploy' : (values.out ?? 'deploy'));
  const outFromRoot = relative(project.root, outDir).split(sep).join('/');
  if (outFromRoot.startsWith('..')) throw new KirinError('KIRIN_ERR_USAGE', `--out ${outDir} is outside the project folder ${project.root}: the Dockerfile copies from it, so it must be inside`);
  const app = args.app === undefined ? null : `./${relative(plan.baseDir, resolve(cwd, args.app)).split(sep).join('/')}`;

  const docker = buildDockerExport({ plan, project, outDir: outFromRoot || '.', app, nodeMajor: Number(process.versions.node.split('.')[0]) });
  const notes = [...docker.notes];
  let files: ExportFile[] = docker.files;
  let stream = docker.files[0]!.text;
  if (target === 'compose') {
    const compose = buildComposeFile({ plan, project, outDir, published: docker.published });
    files = [...files, compose];
    stream = compose.text;
  } else if (target === 'k8s') {
    const k8s = buildK8sExport({
      plan,
      project,
      app,
      image: values.image ?? `${project.name}:latest`,
      replicas: integerFlag('--replicas', values.replicas, 2, 1, 1000),
      maxReplicas: integerFlag('--max-replicas', values['max-replicas'], 10, 1, 10_000),
      workers: integerFlag('--workers', values.workers, 2, 1, 256),
      trustedProxies: values['trusted-proxy'] ?? CLUSTER_PROXIES,
      ingressClass: values['ingress-class'] ?? null,
      clusterIssuer: values['cluster-issuer'] ?? null,
      applyPath: `${relative(cwd, outDir) || '.'}/k8s`,
    });
    files = [...files, ...k8s.files];
    stream = yamlStream(k8s.objects, 'Generated by `kirin export k8s`.');
    notes.push(...k8s.notes);
  }
  if (toStdout) {
    process.stdout.write(stream);
    process.stderr.write(`kirin: printed the ${target === 'docker' ? 'Dockerfile' : target === 'compose' ? 'compose file' : 'manifests'} only; --out DIR also writes ${files.map((f) => f.path).join(', ')}\n`);
  } else {
    for (const path of writeExportFiles(outDir, files, values.force === true)) process.stdout.write(`wrote ${relative(cwd, path) || path}\n`);
  }
  for (const warning of docker.warnings) process.stderr.write(`warning: ${warning}\n`);
  for (const note of notes) process.stderr.write(`note: ${note}\n`);
  return ExitCode.OK;
}

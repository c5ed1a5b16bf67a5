/**
 * `kirin export compose`: one service built from the exported Dockerfile, its
 * env files, its ports, and a named volume for the state folder — which holds
 * the ACME account and certificates, so a rebuild does not ask the CA again.
 */
import { relative } from 'node:path';
import { Scalar, stringify } from 'yaml';
import type { ServePlan } from '../../config/plan.ts';
import { STATE_DIR } from './container-config.ts';
import { generatedBy, publishSpec, type ExportFile, type PublishedPort } from './docker.ts';
import type { ProjectFacts } from './project.ts';

export interface ComposeOptions {
  plan: ServePlan;
  project: ProjectFacts;
  /** Absolute output folder (compose resolves paths against the file's folder). */
  outDir: string;
  published: PublishedPort[];
}

export function buildComposeFile(options: ComposeOptions): ExportFile {
  const { plan, project, outDir } = options;
  const fromOut = (path: string) => relative(outDir, path).split('\\').join('/') || '.';
  const service: Record<string, unknown> = {
    // dockerfile is relative to the context (the project folder).
    build: { context: fromOut(project.root), dockerfile: [relative(project.root, outDir).split('\\').join('/'), 'Dockerfile'].filter(Boolean).join('/') },
    image: `${project.name}:latest`,
    // A tiny init as PID 1 reaps processes that services leave behind.
    init: true,
    restart: 'unless-stopped',
    ...(plan.envFiles.length > 0 ? { env_file: plan.envFiles.map(fromOut) } : {}),
    // Quoted: YAML 1.1 parsers read 80:80 as a base-60 number.
    // On the host address the config listens on: a loopback-only config stays loopback-only.
    ...(options.published.length > 0 ? { ports: options.published.map((p) => quoted(publishSpec(p))) } : {}),
    volumes: [`kirin-state:${STATE_DIR}`],
    // Longer than Kirin's graceful timeout, so a stop drains instead of being killed.
    stop_grace_period: `${Math.ceil(plan.gracefulTimeoutMs / 1000) + 10}s`,
  };
  const document = { name: project.name, services: { [project.name]: service }, volumes: { 'kirin-state': {} } };
  const header = [
    `# ${generatedBy('kirin export compose')}`,
    `# Start it:  docker compose -f ${relative(project.root, outDir) || '.'}/compose.yml up -d --build`,
    '# Certificates and the ACME account live in the kirin-state volume: keep it across rebuilds.',
  ].join('\n');
  return { path: 'compose.yml', text: `${header}\n${stringify(document)}` };
}

function quoted(text: string): Scalar {
  const scalar = new Scalar(text);
  scalar.type = 'QUOTE_DOUBLE';
  return scalar;
}

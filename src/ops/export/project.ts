/**
 * What the exporters need to know about the project: where its package.json
 * is (the image's /app), its name, how its dependencies install, whether it
 * builds, and where the config sits inside it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { findPackageRoot } from '../../util/package-root.ts';
import { KirinError } from '../../errors.ts';

export interface ProjectFacts {
  /** The folder with package.json: the build context, /app in the image. */
  root: string;
  /** A DNS-1123 label made from the package name (for images and Kubernetes objects). */
  name: string;
  lockfile: boolean;
  buildScript: boolean;
  /** Where `kirin` is listed: it must be in dependencies, or `npm ci --omit=dev` drops it. */
  kirinListedIn: 'dependencies' | 'devDependencies' | null;
  /** The config's folder relative to the root ('' for the root itself), in POSIX form. */
  configDir: string;
  /** The config file's name, or null for `kirin export … app.ts`. */
  configName: string | null;
}

/** The path inside the image for a path in the project. */
export const APP_DIR = '/app';

export function readProjectFacts(baseDir: string, configFile: string | null): ProjectFacts {
  const root = findPackageRoot(baseDir);
  if (root === null) throw new KirinError('KIRIN_ERR_USAGE', `no package.json in ${baseDir} or above it: the image installs the app with npm, so create one (npm init -y, then install Kirin as docs/production.md, step 1 says)`);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    name?: string;
    scripts?: Record<string, string>;
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const configDir = relative(root, baseDir).split(sep).join('/');
  if (configDir.startsWith('..')) throw new KirinError('KIRIN_ERR_USAGE', `the config (${configFile}) is outside the project folder ${root}`);
  return {
    root,
    name: dnsLabel(pkg.name ?? '') || dnsLabel(root.split(sep).at(-1) ?? '') || 'app',
    lockfile: existsSync(join(root, 'package-lock.json')) || existsSync(join(root, 'npm-shrinkwrap.json')),
    buildScript: typeof pkg.scripts?.build === 'string',
    kirinListedIn: pkg.dependencies?.kirin ? 'dependencies' : pkg.devDependencies?.kirin ? 'devDependencies' : null,
    configDir,
    configName: configFile ? configFile.slice(dirname(configFile).length + 1) : null,
  };
}

/** 'my_App@2' → 'my-app-2': lower case letters, digits and '-', at most 63, no '-' at the ends. */
export function dnsLabel(text: string): string {
  return text
    .replace(/^@[^/]+\//, '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .slice(0, 63)
    .replace(/^-+|-+$/g, '');
}

/** A path in the image for a project-relative folder and file name. */
export function imagePath(project: ProjectFacts, file: string): string {
  return [APP_DIR, project.configDir, file].filter(Boolean).join('/');
}

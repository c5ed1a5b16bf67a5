/**
 * K004–K007: secrets in the environment and env files. Django's SECRET_KEY rules
 * (at least 50 characters, at least 5 distinct, no `django-insecure-` prefix),
 * applied to every variable whose name says it is a secret. Values are never
 * printed: a finding names the variable and where it is set, nothing more.
 */
import { basename } from 'node:path';
import { finding, type Finding } from './catalog.ts';
import type { AuditContext } from './context.ts';

export const MIN_SECRET_LENGTH = 50;
export const MIN_DISTINCT_CHARACTERS = 5;

const SECRET_WORDS = new Set(['SECRET', 'KEY', 'TOKEN', 'PASSWORD', 'PASSWD', 'PASSPHRASE', 'PWD', 'SALT', 'APIKEY', 'SECRETKEY']);
// Names that contain a secret word but hold no secret: AWS_ACCESS_KEY_ID, STRIPE_PUBLISHABLE_KEY, SSH_KEY_PATH …
const NOT_SECRET_WORDS = new Set(['PUBLIC', 'PUBLISHABLE', 'ID', 'FILE', 'PATH', 'DIR', 'NAME', 'TYPE', 'URL', 'URI', 'HOST', 'PORT', 'USER', 'LENGTH', 'SIZE', 'TTL', 'EXPIRY', 'HEADER', 'ALGORITHM', 'ALG']);

// The shell's working folders, not passwords.
const SHELL_VARIABLES = new Set(['PWD', 'OLDPWD']);

export function isSecretName(name: string): boolean {
  if (SHELL_VARIABLES.has(name)) return false;
  const words = name.toUpperCase().split(/[^A-Z0-9]+/).filter(Boolean);
  if (!words.some((w) => SECRET_WORDS.has(w) || w.endsWith('SECRET') || w.endsWith('PASSWORD') || w.endsWith('TOKEN'))) return false;
  return !words.some((w) => NOT_SECRET_WORDS.has(w));
}

const PLACEHOLDERS = new Set(['secret', 'password', 'changeme', 'change-me', 'change_me', 'changeit', 'replaceme', 'replace-me', 'todo', 'xxx', 'test', 'example', 'default', 'dev', 'development', 'admin', 'letmein', 'none', 'null', 'undefined', 'your-secret-key', 'secret-key', 'secret_key', 'mysecret', 'supersecret']);
const PLACEHOLDER_PARTS = ['changeme', 'change-me', 'change_me', 'replace-me', 'replace_me', 'replaceme', 'your-secret', 'your_secret', 'yoursecret', 'placeholder', 'insecure', 'not-secret', 'notsecret', 'example'];

/** Whether a value was typed as a stand-in (from a template, a tutorial, Django's startproject). */
export function isPlaceholder(value: string): boolean {
  const lower = value.trim().toLowerCase();
  if (lower.startsWith('django-insecure-')) return true;
  if (PLACEHOLDERS.has(lower)) return true;
  return PLACEHOLDER_PARTS.some((part) => lower.includes(part)) || /^<.*>$/.test(lower) || /^\$\{.*\}$/.test(lower);
}

interface SecretSource {
  name: string;
  value: string;
  /** 'environment' or the env file's path. */
  where: string;
}

function secretsInUse(ctx: AuditContext): SecretSource[] {
  const sources: SecretSource[] = [];
  for (const [name, value] of Object.entries(ctx.baseEnv)) {
    if (value !== undefined && isSecretName(name)) sources.push({ name, value, where: ctx.envSource });
  }
  for (const file of ctx.envFiles) {
    if (!file.loaded || !file.vars) continue;
    for (const [name, value] of Object.entries(file.vars)) {
      // The environment wins over env files: a value it overrides never reaches the app.
      if (isSecretName(name) && ctx.baseEnv[name] === undefined) sources.push({ name, value, where: file.path });
    }
  }
  return sources;
}

export function checkSecretStrength(ctx: AuditContext): Finding[] {
  const findings: Finding[] = [];
  for (const { name, value, where } of secretsInUse(ctx)) {
    const at = `${name} (${where})`;
    const fix = `set ${name} to a new random value: \`kirin secret\` prints one (${MIN_SECRET_LENGTH}+ characters)${where === ctx.envSource ? '' : ` — in ${where}`}`;
    const distinct = new Set(value).size;
    if (isPlaceholder(value)) findings.push(finding('K006', `${name} is a placeholder value, not a secret`, fix, at));
    else if (distinct < MIN_DISTINCT_CHARACTERS) findings.push(finding('K005', `${name} has ${distinct} distinct character${distinct === 1 ? '' : 's'} (fewer than ${MIN_DISTINCT_CHARACTERS}): it is guessable`, fix, at));
    else if (value.length < MIN_SECRET_LENGTH) findings.push(finding('K004', `${name} is ${value.length} characters long (fewer than ${MIN_SECRET_LENGTH})`, fix, at));
  }
  return findings;
}

/** K007: one secret value in two env files (staging and production sharing a key, or one key for two purposes). */
export function checkSecretReuse(ctx: AuditContext): Finding[] {
  const byValue = new Map<string, { name: string; file: string }[]>();
  for (const file of ctx.envFiles) {
    if (!file.vars) continue;
    for (const [name, value] of Object.entries(file.vars)) {
      // Short values ('true', '1') repeat for reasons that are not secrets.
      if (!isSecretName(name) || value.length < 8) continue;
      const list = byValue.get(value) ?? [];
      list.push({ name, file: file.path });
      byValue.set(value, list);
    }
  }
  const findings: Finding[] = [];
  for (const uses of byValue.values()) {
    const files = [...new Set(uses.map((u) => u.file))];
    if (files.length < 2) continue;
    const described = uses.map((u) => `${u.name} in ${basename(u.file)}`).join(', ');
    findings.push(
      finding(
        'K007',
        `the same secret value is set in ${files.length} env files: ${described}; a leak of one environment opens the other`,
        'give each environment its own value: `kirin secret` prints a new one',
        files.join(', '),
      ),
    );
  }
  return findings;
}

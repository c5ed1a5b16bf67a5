// bench/dev.ts rewrites this file in its copy of the app: the save it times.
export function message(): string {
  return "first";
}

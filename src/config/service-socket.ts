/**
 * Where a service's {socket} lives. A reload starts the changed service
 * beside the running one, so the second copy takes `<name>.2.sock` (then
 * `.3` …) while the first still has `<name>.sock`: gunicorn, for one, removes
 * its socket file as it exits.
 */

/** sockaddr_un holds 108 bytes, the last one the terminating NUL. */
export const MAX_UNIX_SOCKET_PATH = 107;

/** Copy `copy` (1 for the first) of the service whose first socket is `first` (`…/<name>.sock`). */
export function serviceSocketPath(first: string, copy: number): string {
  return copy === 1 ? first : `${first.slice(0, -'.sock'.length)}.${copy}.sock`;
}

/** Why `first` is too long for the copies a reload makes (checked with a one-digit copy number), or null. */
export function socketPathTooLong(first: string): string | null {
  const longest = serviceSocketPath(first, 9);
  if (Buffer.byteLength(longest) <= MAX_UNIX_SOCKET_PATH) return null;
  return `the socket path for {socket} (${first}) is longer than unix sockets allow (${MAX_UNIX_SOCKET_PATH} bytes, with room for the ".2.sock" a reload uses)`;
}

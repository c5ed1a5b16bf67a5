/**
 * What ssh's own complaints mean, said so a person can act. ssh exits 255 for
 * its errors; its stderr says which one. Kirin never works around a host key
 * problem: it explains it and stops.
 */

/** Returns the explanation for an ssh failure, or null when stderr shows none of ssh's own errors. */
export function explainSshFailure(label: string, stderr: string): string | null {
  const text = stderr.replace(/\r/g, '');
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i.test(text)) {
    const file = /Offending \S+ key in (\S+?):(\d+)/.exec(text);
    return [
      `${label}: the host's SSH key is not the one recorded for it${file ? ` in ${file[1]} (line ${file[2]})` : ''}, so ssh refused to connect.`,
      'Either the server was reinstalled or its keys were regenerated, or someone is between you and the server.',
      "Check the key on the server's own console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) against the fingerprint above;",
      `only when they match, forget the old key with \`ssh-keygen -R ${hostOf(label)}\` and connect once with ssh to record the new one. Kirin never skips this check.`,
    ].join('\n  ');
  }
  if (/Host key verification failed|No .* host key is known for/i.test(text)) {
    return [
      `${label}: the host's SSH key is not in known_hosts, and Kirin does not accept an unknown key by itself.`,
      `Connect once with \`ssh ${label.replace(/:\d+$/, '')}\` and compare the fingerprint it shows with the server's`,
      '(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on its console), or add a key you verified to ~/.ssh/known_hosts (in CI: a repository secret).',
    ].join('\n  ');
  }
  if (/Permission denied \(/i.test(text)) {
    return [
      `${label}: the host refused the login (${/Permission denied \(([^)]*)\)/i.exec(text)?.[1] ?? 'publickey'}).`,
      `Your key is not authorized for this user there, or ssh offered none: add it with \`ssh-copy-id ${label.replace(/:\d+$/, '')}\``,
      "(or put the public key in the user's ~/.ssh/authorized_keys), and check `ssh-add -l` lists it.",
    ].join('\n  ');
  }
  const unreachable = /(Connection refused|Connection timed out|No route to host|Network is unreachable|Could not resolve hostname[^\n]*|Name or service not known|Connection closed by [^\n]*|Connection reset by [^\n]*|Operation timed out)/i.exec(text);
  if (unreachable) {
    return [
      `${label}: cannot reach the host over SSH (${unreachable[1]!.trim()}).`,
      'Is the machine on and its address right? Is sshd running and is its port open in the firewall? `ssh -v` shows where it stops.',
    ].join('\n  ');
  }
  if (/Broken pipe|Connection to \S+ closed by remote host|packet_write_wait|client_loop: send disconnect|Timeout, server \S+ not responding/i.test(text)) {
    return `${label}: the SSH connection dropped (${lastLine(text)}).`;
  }
  return null;
}

/** The name known_hosts records: `host`, or `[host]:port` off port 22. */
function hostOf(label: string): string {
  const withoutUser = label.slice(label.lastIndexOf('@') + 1);
  const port = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(withoutUser);
  if (!port) return withoutUser;
  return port[2] === '22' ? port[1]!.replace(/^\[|\]$/g, '') : `${port[1]!.startsWith('[') ? port[1] : `[${port[1]}]`}:${port[2]}`;
}

export function lastLine(text: string): string {
  const lines = text.trim().split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.at(-1) ?? '';
}

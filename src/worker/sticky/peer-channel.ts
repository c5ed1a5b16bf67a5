/**
 * The channel between the Socket.IO adapters of all workers: a worker sends
 * a message to the master, which relays it as it is to every other live
 * worker (of every generation, so clients still on a draining worker hear
 * broadcasts too). Messages are strings: JSON with binary values (Buffers,
 * typed arrays, ArrayBuffers — Socket.IO packets may carry them) tagged so
 * they come back as Buffers, since the IPC channel's JSON would flatten them.
 */
type Listener = (message: unknown) => void;

const listeners = new Set<Listener>();
const BINARY = '__kirinBinary';

export const peerChannel = {
  /** To every other worker. */
  send(message: unknown): void {
    if (process.connected) process.send!({ t: 'peers', data: JSON.stringify(message, tagBinary) });
  },
  subscribe(listener: Listener): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  /** A message the master relayed (the worker's IPC dispatch calls this). */
  receive(data: string): void {
    if (listeners.size === 0) return;
    const message = JSON.parse(data, untagBinary) as unknown;
    for (const listener of listeners) listener(message);
  },
};

function tagBinary(this: unknown, key: string, value: unknown): unknown {
  // JSON.stringify calls Buffer's toJSON before the replacer; read the original from the holder.
  const original = (this as Record<string, unknown>)[key];
  if (original instanceof ArrayBuffer) return { [BINARY]: Buffer.from(original).toString('base64') };
  if (ArrayBuffer.isView(original)) return { [BINARY]: Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64') };
  return value;
}

function untagBinary(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && BINARY in value) return Buffer.from((value as Record<string, string>)[BINARY]!, 'base64');
  return value;
}

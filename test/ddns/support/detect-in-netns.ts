/**
 * Run inside a test's network namespace: starts echo services on the
 * namespace's loopback (answering what argv says), runs Kirin's address
 * detection there, and prints the detection and how many requests each echo
 * service got, as JSON.
 *
 *   node detect-in-netns.ts '{"echo4":["81.2.69.160","81.2.69.160"],"echo6":["2a01:…"],"ipv4":true,"ipv6":true}'
 */
import { detectAddresses } from '../../../src/ddns/addresses/detect.ts';
import { EchoClient } from '../../../src/ddns/addresses/echo.ts';
import { startEcho } from './stand-ins.ts';

const input = JSON.parse(process.argv[2]!) as { echo4: string[]; echo6: string[]; ipv4: boolean; ipv6: boolean };
const echo4 = await Promise.all(input.echo4.map((answer) => startEcho(answer)));
const echo6 = await Promise.all(input.echo6.map((answer) => startEcho(answer, '::1')));
const client = new EchoClient({ timeoutMs: 2000 });
const detection = await detectAddresses({ ipv4: input.ipv4, ipv6: input.ipv6, detect: { ipv4: echo4.map((e) => e.url), ipv6: echo6.map((e) => e.url) } }, client);
client.close();
process.stdout.write(JSON.stringify({ detection, echoRequests: { ipv4: echo4.map((e) => e.requests.length), ipv6: echo6.map((e) => e.requests.length) } }));
await Promise.all([...echo4, ...echo6].map((e) => e.close()));

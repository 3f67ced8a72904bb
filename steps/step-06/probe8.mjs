import Fastify from 'fastify';
import net from 'node:net';
const [R, H, I, route] = process.argv.slice(2);
const opts = { requestTimeout: Number(R), http: { connectionsCheckingInterval: Number(I) } };
if (H !== '-') opts.http.headersTimeout = Number(H);
const app = Fastify(opts);
if (route === 'y') app.get('/', async () => 'hi');
await app.listen({ port: 0, host: '127.0.0.1' });
const port = app.server.address().port;
const cases = { body: 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nContent-Type: text/plain\r\n\r\nabc', headers: 'GET / HTTP/1.1\r\nHost: x\r\n' };
const out = await Promise.all(Object.entries(cases).map(([what, raw]) => new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(port, '127.0.0.1', () => { if (raw) s.write(raw); });
    s.on('close', () => { clearTimeout(t); resolve(`${what} ${Date.now() - t0}`); });
    s.on('error', () => {});
    const t = setTimeout(() => { s.destroy(); }, 4000);
})));
console.log(process.argv.slice(2).join(' '), out.join(', '));
await app.close();

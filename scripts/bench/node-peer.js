// The benchmark's Node.js peer: the webhook handler of the classic guide, with nothing
// durable. It collects the body, checks X-Hub-Signature-256 (HMAC-SHA256 of the raw bytes
// with the app secret, compared with crypto.timingSafeEqual), answers 200 at once, then
// parses the JSON and pushes the events into an array in memory. Plain node:http.
//
//   APP_SECRET=… PORT=… node scripts/bench/node-peer.js
//
// GET /count answers the number of events kept, for the benchmark's "stored".
'use strict';
const http = require('node:http');
const crypto = require('node:crypto');

const secret = process.env.APP_SECRET;
const port = Number(process.env.PORT);
if (!secret || !port) {
  console.error('set APP_SECRET and PORT');
  process.exit(2);
}

const events = [];

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/count') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(String(events.length));
    return;
  }
  if (req.method !== 'POST' || req.url !== '/webhook') {
    res.writeHead(404);
    res.end();
    return;
  }
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const given = Buffer.from(req.headers['x-hub-signature-256'] || '');
    const expected = Buffer.from('sha256=' + crypto.createHmac('sha256', secret).update(body).digest('hex'));
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
      res.writeHead(401);
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('EVENT_RECEIVED');
    try {
      const payload = JSON.parse(body);
      for (const entry of payload.entry || []) {
        for (const change of entry.changes || []) {
          const value = change.value || {};
          for (const message of value.messages || []) events.push(message);
          for (const status of value.statuses || []) events.push(status);
        }
      }
    } catch (error) {
      // Not JSON: the guide's handler drops it.
    }
  });
});
server.keepAliveTimeout = 60000;
server.listen(port, '127.0.0.1', () => console.log(`node peer listening on 127.0.0.1:${port}`));

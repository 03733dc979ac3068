// Sends MESSAGES messages of about 2 KB through Nodemailer's pooled transport
// to 127.0.0.1:PORT with CONNECTIONS connections: the peer in BENCHMARKS.md.
// Usage: node nodemailer-send.mjs PORT CONNECTIONS MESSAGES
import nodemailer from 'nodemailer';

const [port, connections, messages] = process.argv.slice(2).map(Number);
const transport = nodemailer.createTransport({
  host: '127.0.0.1',
  port,
  secure: false,
  ignoreTLS: true,
  pool: true,
  maxConnections: connections,
  maxMessages: Infinity,
});
const body = 'Dear friend,\n\n' + 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(34) + '\n';
let next = 0;
let sent = 0;
let failed = 0;
async function worker() {
  while (next < messages) {
    const i = next++;
    try {
      await transport.sendMail({
        from: '"News" <news@example.com>',
        to: `r${i}@example.org`,
        subject: `Hello Person ${i}`,
        text: body,
      });
      sent++;
    } catch {
      failed++;
    }
  }
}
// Enough in flight to keep every pooled connection busy.
await Promise.all(Array.from({ length: connections * 4 }, worker));
transport.close();
console.log(JSON.stringify({ sent, failed }));

// The bare `node:http` baseline of issue 17: answers every request with the same bytes the
// gateway answers GET balance with (status, content-type, body), in its own process like the
// gateway, so "% of bare" compares the two servers on the same machine in the same run.
// Usage: node bench/lib/bare-http.mjs PORT CONTENT_TYPE BODY
import { createServer } from "node:http";

const [port, contentType, body] = process.argv.slice(2);
const bytes = Buffer.from(body ?? "");
const server = createServer((_req, res) => {
  res.writeHead(200, { "content-type": contentType, "content-length": bytes.length });
  res.end(bytes);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(port), "127.0.0.1", () => process.stdout.write("listening\n"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));

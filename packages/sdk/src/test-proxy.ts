import net from "node:net";

/**
 * A tiny TCP proxy in front of the real gateway, for the SDK's retry tests. Per connection it
 * forwards, or misbehaves the way a network does: it cuts the connection once the gateway has
 * answered (the request was applied, the client never hears back), answers 503 itself, or
 * answers 200 with a body no schema accepts. It records each request head it saw.
 */
export type ProxyMode = "forward" | "drop-answer" | "answer-503" | "answer-garbage";

export interface TestProxy {
  url: string;
  /** The request head (request line and headers) of every connection, in arrival order. */
  heads: string[];
  close: () => Promise<void>;
}

const BODY_503 = JSON.stringify({ error: { code: "unavailable", message: "proxy says no" } });
const BODY_GARBAGE = JSON.stringify({ surprise: true });

export async function startProxy(
  target: string,
  modeOf: (connection: number) => ProxyMode,
): Promise<TestProxy> {
  const { hostname, port } = new URL(target);
  const heads: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const connection = heads.length;
    heads.push("");
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    const mode = modeOf(connection);
    const received = onFirstRequest(client, (head) => {
      heads[connection] = head;
    });
    if (mode === "answer-503")
      return void received.then(() => answer(client, "503 Service Unavailable", BODY_503));
    if (mode === "answer-garbage") return void received.then(() => answer(client, "200 OK", BODY_GARBAGE));
    forward(client, hostname, Number(port), mode === "drop-answer", sockets);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port: proxyPort } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${proxyPort}`,
    heads,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function forward(
  client: net.Socket,
  host: string,
  port: number,
  dropAnswer: boolean,
  sockets: Set<net.Socket>,
) {
  const upstream = net.connect(port, host);
  sockets.add(upstream);
  upstream.on("close", () => sockets.delete(upstream));
  upstream.on("error", () => client.destroy());
  client.pipe(upstream);
  if (!dropAnswer) {
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    return;
  }
  // The gateway's first answer byte proves the request was taken and decided; the client gets nothing.
  upstream.once("data", () => {
    client.destroy();
    upstream.destroy();
  });
}

/** Resolves once the connection's first request (head and content-length body) has arrived. */
function onFirstRequest(client: net.Socket, onHead: (head: string) => void): Promise<void> {
  return new Promise((resolve) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const headEnd = buffered.indexOf("\r\n\r\n");
      if (headEnd === -1) return;
      const head = buffered.subarray(0, headEnd).toString("latin1");
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (buffered.length < headEnd + 4 + length) return;
      client.off("data", onData);
      onHead(head);
      resolve();
    };
    client.on("data", onData);
  });
}

/** Answers without asking the gateway, then closes the connection. */
function answer(client: net.Socket, statusLine: string, body: string): void {
  client.end(
    `HTTP/1.1 ${statusLine}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `connection: close\r\n\r\n${body}`,
  );
}

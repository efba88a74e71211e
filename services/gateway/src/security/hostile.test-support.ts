import fc from "fast-check";

/** Percent-encodes every byte but the unreserved ones; a lone surrogate goes as U+FFFD (no throw). */
export function percentEncode(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * Hostile input for the fuzz tests, as raw JSON text where it matters: a body is assembled from
 * field texts, so a field can hold what JSON.stringify would never write (1e400, 01, deep nesting,
 * duplicate keys). Strings cover control characters, lone surrogates, bidi and zero-width
 * characters, SQL and header injection, and lengths past every documented limit.
 */

/** SQL that would change the answer (or the database) if any of it reached a statement as text. */
export const SQL_INJECTION = [
  "' OR '1'='1",
  "' OR 1=1 --",
  "'; DROP TABLE members; --",
  '"; DROP TABLE tokens; --',
  "1; SELECT pg_sleep(5); --",
  "') UNION SELECT token_hash::text, role, subject FROM tokens --",
  "%' AND 1=0 UNION SELECT NULL, NULL --",
  "loyalty_id DESC; DELETE FROM members",
  "client_name) --",
  "-client_name, (SELECT 1)",
  "$1",
  "$$ $$",
  "E'\\x27'",
  "\\",
  "\\'",
  "%",
  "_",
  "%%",
  "' || pg_read_file('/etc/passwd') || '",
  "1::int",
  "ARRAY[1]",
  "(SELECT 1)",
  "NULL",
];

/** CR/LF and friends: nothing the client sends may become a response header of its own. */
export const HEADER_INJECTION = [
  "x\r\nX-Injected: 1",
  "x\nX-Injected: 1",
  "x\r\n\r\n<html>injected",
  "%0d%0aX-Injected:%201",
  "x\u2028X-Injected: 1",
  "x\u0000X-Injected: 1",
];

const SPECIAL_CHARS = [
  "\u0000",
  "\u0001",
  "\u0008",
  "\t",
  "\n",
  "\r",
  "\u001b",
  "\u001f",
  "\u007f",
  "\u0085",
  "\u00a0",
  "\u200b",
  "\u200e",
  "\u202e",
  "\u2028",
  "\ufeff",
  "\ufffd",
  "\uffff",
  "\ud800", // lone high surrogate
  "\udc00", // lone low surrogate
  "\ud83d\ude00",
  "e\u0301",
  "\u0130", // İ: lower() changes its length
  "\u00df",
  "\ufb03",
  "/",
  "?",
  "#",
  "%",
  ",",
  ";",
  "&",
  "=",
  "+",
  " ",
  ".",
  "\\",
  "'",
  '"',
  "<",
  ">",
  "{",
  "}",
];

const NAMES_THAT_MEAN_SOMETHING = [
  "",
  " ",
  "null",
  "undefined",
  "NaN",
  "0",
  "-1",
  "true",
  "[]",
  "{}",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "admin",
  "ADMIN",
  "member",
  "..",
  ".",
  "%00",
  "%zz",
  "%",
  "%2F",
  "%C0%AF",
  "%FF",
];

/** Lengths around and far past the limits (50, 100, 200, 500 characters; 16 KiB; 1 MiB). */
const LENGTHS = [0, 1, 49, 50, 51, 99, 100, 101, 199, 200, 201, 499, 500, 501, 1_000, 16_385, 100_000];

export const longString = fc
  .tuple(fc.constantFrom(...LENGTHS), fc.constantFrom("x", "é", "\ud83d\ude00", "\u0000", "%", "' OR 1=1 --"))
  .map(([n, unit]) => unit.repeat(Math.max(1, Math.ceil(n / unit.length))).slice(0, n));

/** Short strings of special characters: they pass length limits, so they reach storage. */
export const specialText: fc.Arbitrary<string> = fc.string({
  unit: fc.constantFrom(...SPECIAL_CHARS, "a"),
  minLength: 1,
  maxLength: 12,
});

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme" }),
  fc.string({ unit: "binary" }),
  fc.string({ unit: fc.constantFrom(...SPECIAL_CHARS), maxLength: 20 }),
  fc.constantFrom(...NAMES_THAT_MEAN_SOMETHING),
  fc.constantFrom(...SQL_INJECTION),
  fc.constantFrom(...HEADER_INJECTION),
  longString,
);

/** Numbers JSON can carry, around every boundary the API has (0, 2^53, 2^63, doubles). */
export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.maxSafeInteger(),
  fc.constantFrom(
    0,
    -0,
    0.5,
    1.5,
    -1.5,
    0.1,
    1e-7,
    9007199254740991,
    9007199254740992,
    -9007199254740991,
    -9007199254740992,
    2 ** 63,
    -(2 ** 63),
    2 ** 64,
    1e21,
    1e308,
    -1e308,
    5e-324,
  ),
);

/** Number tokens JSON.stringify never writes, but a client can. */
export const RAW_NUMBER_TOKENS = [
  "1e400",
  "-1e400",
  "1e-400",
  "1.0",
  "1E2",
  "-0",
  "0.0000000000000000000001",
  "123456789012345678901234567890",
  "9007199254740993",
  "-9223372036854775809",
  "01",
  "0x10",
  "NaN",
  "Infinity",
  "-",
  "1_000",
  "+1",
  ".5",
];

export const rawNumber: fc.Arbitrary<string> = fc.oneof(
  hostileNumber.map((n) => JSON.stringify(n)),
  fc.constantFrom(...RAW_NUMBER_TOKENS),
);

export const BAD_DATES = [
  "2022-13-01T00:00:00Z",
  "2022-02-30T00:00:00Z",
  "2022-01-01T24:00:01Z",
  "2022-01-01T23:60:00Z",
  "2022-01-01",
  "2022-01-01T00:00:00",
  "2022-01-01 00:00:00Z",
  "0000-01-01T00:00:00Z",
  "0001-01-01T00:00:00+01:00",
  "9999-12-31T23:59:59-01:00",
  "10000-01-01T00:00:00Z",
  "+275760-09-13T00:00:00Z",
  "-000001-01-01T00:00:00Z",
  "2022-01-01T00:00:00+99:99",
  "2022-01-01T00:00:00.123456789012Z",
  "1970-01-01T00:00:00Z\u0000",
  "yesterday",
  "now",
  "1666000000",
  "",
  "2022-W01-1T00:00:00Z",
  "2022-01-01T00:00:00z",
];

const anyDate = fc
  .date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true })
  .map((d) => d.toISOString());
export const hostileDate: fc.Arbitrary<string> = fc.oneof(fc.constantFrom(...BAD_DATES), anyDate);

/** 1,000 to 100,000 nested arrays or objects (JSON.stringify overflows the stack near 5,000). */
export const deepJson: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(1_000, 4_000, 5_000, 10_000, 100_000), fc.boolean())
  .map(([depth, arrays]) =>
    arrays ? `${"[".repeat(depth)}${"]".repeat(depth)}` : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`,
  );

/** Wrong types, as text (a literal `__proto__` key is only possible in JSON text). */
const wrongType = fc.constantFrom(
  "null",
  "true",
  "false",
  "[]",
  "{}",
  "[1]",
  '{"$gt":""}',
  '""',
  "[null]",
  '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"polluted":1}}}',
);

const wideArray = fc
  .constantFrom(1_001, 10_001, 100_000)
  .map((n) => `[${Array.from({ length: n }, () => "1").join(",")}]`);

/** Any hostile JSON value, as text. */
export const hostileJson: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: hostileString.map((s) => JSON.stringify(s)), weight: 4 },
  { arbitrary: rawNumber, weight: 3 },
  { arbitrary: hostileDate.map((s) => JSON.stringify(s)), weight: 1 },
  { arbitrary: wrongType, weight: 2 },
  { arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)), weight: 2 },
  { arbitrary: deepJson, weight: 1 },
  { arbitrary: wideArray, weight: 1 },
);

/** A field: usually valid (so requests get past the first check), else hostile, sometimes absent. */
export function field(valid: fc.Arbitrary<string>): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { arbitrary: valid, weight: 4 },
    { arbitrary: hostileJson, weight: 3 },
    { arbitrary: fc.constant(undefined), weight: 1 },
  );
}

export const json = (value: unknown): fc.Arbitrary<string> => fc.constant(JSON.stringify(value));
export const jsonOf = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<string> => arb.map((v) => JSON.stringify(v));

/** Whole bodies that are not a JSON object at all. */
export const GARBAGE_BODIES = [
  "",
  "{nope",
  "{",
  "}",
  "[]",
  "null",
  '"string"',
  "1",
  "true",
  "\u0000",
  "\ufeff{}",
  '{"a":1}garbage',
  '{"a":1}{"b":2}',
  "{'single':'quotes'}",
  "{a:1}",
  '{"a":1,}',
  '{"a":"\\u0000"}',
  '{"a":"\\ud800"}',
  '{"a":"\\x41"}',
  "[".repeat(100_000),
  `${"[".repeat(200_000)}${"]".repeat(200_000)}`,
];

/** An object body from field texts; undefined fields are left out; maybe an unknown key, maybe a key twice. */
export function objectBody(fields: Record<string, fc.Arbitrary<string | undefined>>): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.record(fields),
      fc.option(fc.tuple(hostileString, hostileJson), { freq: 6 }),
      fc.option(fc.constantFrom(...Object.keys(fields)), { freq: 8 }),
      fc.option(hostileJson, { freq: 8 }),
    )
    .map(([values, extra, twice, twiceValue]) => {
      const parts = Object.entries(values)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${JSON.stringify(k)}:${v}`);
      if (extra) parts.push(`${JSON.stringify(extra[0])}:${extra[1]}`);
      if (twice !== null && twiceValue !== null) parts.push(`${JSON.stringify(twice)}:${twiceValue}`);
      return `{${parts.join(",")}}`;
    });
}

/** A body: mostly the route's object, sometimes garbage, sometimes a hostile JSON value. */
export function body(object: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: object, weight: 8 },
    { arbitrary: fc.constantFrom(...GARBAGE_BODIES), weight: 1 },
    { arbitrary: hostileJson, weight: 1 },
  );
}

/** A path segment: a valid id, or a hostile one percent-encoded, or raw encodings (%2F, %00, %FF, ..). */
export function segment(...valid: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.constantFrom(...valid).map(percentEncode), weight: 3 },
    { arbitrary: hostileString.map((s) => percentEncode(s).slice(0, 8_000)), weight: 4 },
    {
      arbitrary: fc.constantFrom(
        "%2F",
        "a%2Fb",
        "%00",
        "a%00b",
        "%FF",
        "%C0%AF",
        "%E2%80%AE",
        "%",
        "%zz",
        "%%",
        "..",
        "%2e%2e",
        "..%2f..%2fetc%2fpasswd",
        "a;b=c",
        "x".repeat(8_000),
        "%ED%A0%80", // an encoded lone surrogate (invalid UTF-8)
      ),
      weight: 2,
    },
  );
}

/** A query string (without '?'): known names with hostile values, unknown names, repeats, bad encodings. */
export function queryString(names: string[], valid: Record<string, fc.Arbitrary<string>> = {}) {
  const value = (name: string) =>
    fc.oneof(
      { arbitrary: valid[name] ?? fc.constant("1"), weight: 3 },
      { arbitrary: hostileString.map((s) => percentEncode(s).slice(0, 6_000)), weight: 3 },
      { arbitrary: rawNumber.map(percentEncode), weight: 1 },
      {
        arbitrary: fc.constantFrom(
          "%",
          "%zz",
          "%00",
          "%FF",
          "a%2Cb",
          ",,,",
          ",",
          "+",
          "%0d%0aX-Injected:%201",
        ),
        weight: 1,
      },
    );
  const pair = fc.oneof(
    { arbitrary: fc.constantFrom(...names).chain((n) => value(n).map((v) => `${n}=${v}`)), weight: 5 },
    { arbitrary: fc.constantFrom(...names), weight: 1 }, // a name without '='
    {
      arbitrary: fc
        .tuple(hostileString, hostileString)
        .map(([n, v]) => `${percentEncode(n)}=${percentEncode(v)}`.slice(0, 2_000)),
      weight: 1,
    },
    {
      arbitrary: fc.constantFrom(
        "%zz=1",
        "=1",
        "&",
        "a[b]=1",
        "a[]=1",
        "__proto__=1",
        "constructor[prototype]=1",
      ),
      weight: 1,
    },
  );
  return fc.array(pair, { maxLength: 6 }).map((pairs) => pairs.join("&"));
}

/** Lists of ids for wallet-style parameters: commas, encoded commas, too many ids. */
export function idList(validIds: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc.subarray(validIds, { minLength: 1 }).map((ids) => ids.map(percentEncode).join(",")),
    fc
      .array(
        hostileString.map((s) => percentEncode(s).slice(0, 300)),
        { minLength: 1, maxLength: 5 },
      )
      .map((ids) => ids.join(",")),
    fc.constantFrom(1_001, 2_000).map((n) => Array.from({ length: n }, (_, i) => `u${i % 10}`).join(",")),
    fc.constantFrom(",", ",,", "a,,b", "%2C", "a%2Cb", ""),
  );
}

import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { COMMAND_AUTH_HEADER, CommandSigningKeys, signCommand, verifyCommand } from "./command-auth";

const secretA = "a".repeat(32);
const secretB = "b".repeat(40);
const keys = CommandSigningKeys.parse(`k1:${secretA},k2:${secretB}`);
const value = Buffer.from('{"v":1,"type":"earn"}');

describe("command signing (x-command-auth)", () => {
  it("signs with the first key: v1=<key id>:<hex HMAC-SHA256 of the value bytes>", () => {
    const hex = createHmac("sha256", secretA).update(value).digest("hex");
    expect(signCommand(keys, value)).toBe(`v1=k1:${hex}`);
    expect(COMMAND_AUTH_HEADER).toBe("x-command-auth");
  });

  it("verifies with any configured key (rotation), and refuses everything else", () => {
    expect(verifyCommand(keys, value, signCommand(keys, value))).toEqual({ ok: true, keyId: "k1" });
    const second = CommandSigningKeys.parse(`k2:${secretB}`);
    expect(verifyCommand(keys, value, Buffer.from(signCommand(second, value)))).toEqual({
      ok: true,
      keyId: "k2",
    });
    const refused = (header: Parameters<typeof verifyCommand>[2], v = value) => {
      const result = verifyCommand(keys, v, header);
      return result.ok ? "accepted" : result.code;
    };
    const foreign = CommandSigningKeys.parse(`k1:${"c".repeat(32)}`);
    expect(refused(undefined)).toBe("unauthenticated_command");
    expect(refused(signCommand(foreign, value))).toBe("unauthenticated_command");
    expect(refused(signCommand(keys, value), Buffer.from(`${value} `))).toBe("unauthenticated_command");
    expect(refused(signCommand(CommandSigningKeys.parse(`k9:${secretA}`), value))).toBe(
      "unauthenticated_command",
    );
    expect(refused("v1=k1:zz")).toBe("unauthenticated_command");
    expect(refused([signCommand(keys, value), signCommand(keys, value)])).toBe("unauthenticated_command");
    expect(refused(signCommand(keys, value).toUpperCase())).toBe("unauthenticated_command");
  });

  it("parses COMMAND_SIGNING_KEYS strictly", () => {
    expect(CommandSigningKeys.safeParse("").success).toBe(false);
    expect(CommandSigningKeys.safeParse("k1:short").success).toBe(false);
    expect(CommandSigningKeys.safeParse(`k1:${secretA},k1:${secretB}`).success).toBe(false);
    expect(CommandSigningKeys.safeParse(`bad id:${secretA}`).success).toBe(false);
    expect(CommandSigningKeys.parse(` k1:${secretA} `)).toEqual([{ id: "k1", secret: secretA }]);
  });
});

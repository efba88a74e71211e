// A partner app in 20 lines. Run: npx tsx examples/partner-example.ts partner.json [user_id]
import { NotEnoughFundsError, WalletClient } from "@points/sdk";

const client = await WalletClient.loadFromConfig(process.argv[2] ?? "partner.json");
const user = process.argv[3] ?? "alice";
await client.upsertMembers({ loyalty_id: user, client_name: "Alice", client_birthday: "1990-04-01" });

await client.createEntry({ user_id: user, amount: 500, reason: "welcome bonus" });
const coffee = { name: "coffee", data: { size: "large" } };
const voucher = await client.createEntry({ user_id: user, amount: -200, reason: "voucher", item: coffee });
console.log("points taken per payer:", voucher.allocations);
console.log("unused items:", await client.getInventory({ user_ids: [user] }));
console.log("used:", (await client.useItem(voucher.entry_id)).item);
console.log("wallet:", await client.getWallets({ user_ids: [user] }));
try {
  await client.createEntry({ user_id: user, amount: -1_000_000, reason: "too much" });
} catch (err) {
  if (!(err instanceof NotEnoughFundsError)) throw err;
  console.log("not enough funds:", err.message);
}

import { Router } from "express";
import type { GatewayContext } from "../context";

/** Wallet API for partner applications (issue #5): entries, wallets, inventory, use item. */
export function walletRoutes(_ctx: GatewayContext): Router {
  return Router();
}

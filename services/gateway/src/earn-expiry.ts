import { expiresAtProblem } from "@points/shared";
import { httpError } from "./http-errors";

/**
 * Contract 6.1: an earn's `expires_at` must be later than its timestamp, and only earns
 * (positive points) carry one: a negative transaction or a spend has no lot to expire.
 */
export function requireEarnExpiry(
  points: number,
  timestamp: string,
  expiresAt: string | null | undefined,
): void {
  if (expiresAt === undefined) return;
  const problem =
    points < 0 ? "applies only to an earn (positive points)" : expiresAtProblem(timestamp, expiresAt);
  if (problem !== null) {
    throw httpError("validation_failed", "invalid request body", { fields: { expires_at: [problem] } });
  }
}

/** Numbers and dates as the viewer reads them: the viewer's locale and time zone. */
const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export function formatPoints(n: number | string | null | undefined): string {
  if (n === null || n === undefined || n === "") return "";
  const value = typeof n === "string" ? Number(n) : n;
  return Number.isFinite(value) ? integer.format(value) : String(n);
}

export function formatDate(value: string | number | null | undefined): { local: string; utc: string } {
  if (value === null || value === undefined || value === "") return { local: "", utc: "" };
  // Entries carry unix seconds (created_on); everything else is ISO 8601.
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return { local: String(value), utc: String(value) };
  return {
    local: dateTime.format(date),
    utc: `${date
      .toISOString()
      .replace("T", " ")
      .replace(/\.\d+Z$/, "")} UTC`,
  };
}

export function todayUtc(): string {
  return new Date().toISOString().slice(0, 10);
}

export function daysAgoUtc(days: number): string {
  return new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);
}

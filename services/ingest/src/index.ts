export { type RunningIngest, startIngest } from "./ingest";
export {
  DLQ_CODES,
  type DlqCode,
  eventCommandId,
  PartnerEvent,
  signPartnerEvent,
  VALUE_BYTES_MAX,
} from "./verify-partner-event";

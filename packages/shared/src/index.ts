export * from "@points/core/assert";
export * from "./config";
export * from "./errors";
export * from "./json";
export * from "./messages/index";
export * from "./redis-keys";
export * from "./with-timeout";

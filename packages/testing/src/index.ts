export * from "./env";
export * from "./infra";

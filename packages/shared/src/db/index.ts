export * from "./entries";
export * from "./migrate";
export * from "./pool";

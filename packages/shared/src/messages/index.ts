export * from "./command";
export * from "./entry";
export * from "./fields";
export * from "./outcome";

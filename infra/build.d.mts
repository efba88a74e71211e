export const SERVICES: string[];
export function buildServices(names?: string[], log?: (message: string) => void): Promise<void>;
export const SERVICE_NODE_FLAGS: string[];

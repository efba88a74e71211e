export const SERVICES: string[];
export function buildServices(names?: string[], log?: (message: string) => void): Promise<void>;
export function serviceNodeFlags(name: string): string[];

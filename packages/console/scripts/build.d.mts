export const CONSOLE_DIR: string;
export const DIST_DIR: string;
export const BUNDLE_GZIP_BYTES_MAX: number;
export interface BundleSize {
  files: { file: string; rawBytes: number; gzipBytes: number }[];
  rawBytes: number;
  gzipBytes: number;
}
export function buildConsole(log?: (message: string) => void): Promise<BundleSize>;
export function bundleSize(dir?: string): BundleSize;

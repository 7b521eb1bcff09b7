// Types of report.js, for the tests that import it.
export declare const BASELINE: string;
export declare function median(values: number[]): number;
export declare function summarize(results: unknown): Record<string, Record<string, { rounds: number; rps: number; ratio: number; ratioMin: number; ratioMax: number; cpuRatio: number; p50: number; p99: number; cpuUsPerRequest: number; failures: number }>>;
export declare function verdicts(results: unknown, rows?: unknown): Array<{ kind: 'ratio' | 'floor' | 'p99' | 'rssMiB' | 'faster'; variant: string; other?: string; route: string; claim: string; value: number; met: boolean | null }>;
export declare function markdown(results: unknown): string;

// Types of node-lines.js, for the tests that import it.
export declare const SUPPORTED_LINES: readonly number[];
export declare const CURRENT_LTS: number;
export declare const JUDGED_LINES: readonly number[];
export declare const ENGINES_RANGE: string;
export declare const SUPPORTED_TEXT: string;
export declare const JUDGED_TEXT: string;
export declare function nodeBinary(major: number, log?: (message: string) => void): string;
export declare function parseNodeLine(value: unknown): number;
export declare function runOnNodeLine(major: number): void;
export declare function installMatrix(log?: (message: string) => void): void;

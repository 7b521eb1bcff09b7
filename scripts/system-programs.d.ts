// Types of system-programs.js, for the TypeScript test support that imports it.
/** A program beyond Node that some tests run. */
export type SystemProgram = 'haproxy' | 'nginx' | 'postgresql' | 'chromium' | 'promtool' | 'prometheus' | 'valgrind';
export interface SystemProgramInfo {
  readonly label: string;
  readonly debianPackage: string;
  candidates(): Array<string | undefined>;
}
export declare const PROGRAMS: Readonly<Record<SystemProgram, SystemProgramInfo>>;
export declare function findProgram(candidates: ReadonlyArray<string | undefined>): string | undefined;
export declare function locate(name: SystemProgram): string | undefined;
export declare function installCommand(names: readonly SystemProgram[]): string;

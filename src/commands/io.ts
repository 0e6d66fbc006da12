/** What a subcommand needs of a terminal. */

/** Where a subcommand writes. On stdout, `isTTY` turns on live lines (train) and `columns` sizes drawings (eval). */
export interface CommandIo {
  stdout: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(text: string): unknown };
}

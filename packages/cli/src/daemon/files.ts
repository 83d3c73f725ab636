/**
 * The daemon's file table: every successful open creates one file (Linux
 * struct file, an open file description) held by the processes that have an
 * fd on it. A process holds a file at most once, however many fds it has on
 * it (the shim counts its own fds); a fork adds the child as a holder. The
 * file is released when its last holder lets go — close of the last fd in
 * the last process, or exit — as Linux's fput() of the last reference.
 */
import type { OpenFile } from "./driver";

interface Entry {
  readonly file: OpenFile;
  readonly path: string;
  holders: number;
}

/** Open files by id (ids count from 1 and are never reused). */
export class FileTable {
  private readonly files = new Map<number, Entry>();
  private nextId = 1;

  /** Add a new file with one holder. @returns its id. */
  add(file: OpenFile, path: string): number {
    const id = this.nextId++;
    this.files.set(id, { file, path, holders: 1 });
    return id;
  }

  /** The open file `id`, if it exists. */
  get(id: number): OpenFile | undefined {
    return this.files.get(id)?.file;
  }

  /** One more holder of `id` (a fork's child). */
  hold(id: number): void {
    const e = this.files.get(id);
    if (e !== undefined) e.holders++;
  }

  /** One holder fewer; the last one releases the file. */
  drop(id: number): void {
    const e = this.files.get(id);
    if (e === undefined) return;
    if (--e.holders > 0) return;
    this.files.delete(id);
    e.file.release();
  }

  /** Number of open files. */
  get size(): number {
    return this.files.size;
  }

  /** Open files: id, path, holders (for diagnostics). */
  list(): { id: number; path: string; holders: number }[] {
    return [...this.files].map(([id, e]) => ({ id, path: e.path, holders: e.holders }));
  }
}

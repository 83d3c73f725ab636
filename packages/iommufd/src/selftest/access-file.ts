/**
 * The selftest access fd's file operations (Linux selftest.c
 * iommfd_test_staccess_fops: only `.release`). files.ts dispatches the
 * "access" kind here.
 */
import type { IoctlEnv, IommufdFile } from "../ioctl/env";
import type { IommufdRoot } from "../root";

/**
 * close(2) of the last reference to an access fd
 * (iommufd_test_staccess_release): the access's items are unpinned and the
 * access destroyed — `iommufd.selftest.access_destroy`, which has nothing to
 * do (and logs no event) when the context was closed first.
 */
export function releaseAccessFile<R extends IommufdRoot>(env: IoctlEnv<R>, file: IommufdFile): void {
  env.dispatch({ type: "iommufd.selftest.access_destroy", data: { ctx: file.ctx, id: file.id } });
}

/**
 * Files dropped anywhere on the page. Listening on the document (not on an
 * element) makes the whole window a drop target and keeps the browser from
 * navigating to the dropped file.
 */
import { useEffect } from "preact/hooks";

/** Call `onFile` with the first file of each drop on the document. */
export function useFileDrop(onFile: (file: File) => void): void {
  useEffect(() => {
    const over = (e: DragEvent) => e.preventDefault();
    const drop = (e: DragEvent) => {
      e.preventDefault();
      const file = e.dataTransfer?.files[0];
      if (file !== undefined) onFile(file);
    };
    document.addEventListener("dragover", over);
    document.addEventListener("drop", drop);
    return () => {
      document.removeEventListener("dragover", over);
      document.removeEventListener("drop", drop);
    };
  }, [onFile]);
}

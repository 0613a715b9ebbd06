"""Copy an image into the private registry: blob by blob, manifest last.

The manifest is written only after every blob is in place, so an interrupted copy is never
visible as an image; blobs this copy uploaded are unlinked again when it fails, so a failed `cp`
leaves the repository as it found it.
"""

from __future__ import annotations

from collections.abc import Callable

from onedock.errors import undo
from onedock.progress import Progress
from onedock.registry.client import Registry
from onedock.registry.image import Blob, Image

Opener = Callable[[Blob], object]


def copy_image(
    image: Image,
    dst: Registry,
    dst_repo: str,
    tag: str,
    *,
    src: Registry | None = None,
    src_repo: str = "",
    opener: Opener | None = None,
    parallel: int = 4,
) -> str:
    """Put `image` into dst/dst_repo:tag; returns the manifest digest.

    Blobs come from `src` (another registry: mounted when it is the same one, streamed when not)
    or from `opener` (a local archive).
    """
    uploaded: list[str] = []
    progress = Progress(sum(b.size for b in image.blobs), f"{dst_repo}:{tag}")

    def one(blob: Blob) -> None:
        if dst.has_blob(dst_repo, blob.digest):
            progress.add(blob.size)
            return
        same = src is not None and src.host == dst.host
        if same and dst.mount_blob(dst_repo, blob.digest, src_repo):
            uploaded.append(blob.digest)
            progress.add(blob.size)
            return
        if src is not None:
            stream = src.open_blob(src_repo, blob.digest)
        elif opener is not None:
            stream = opener(blob)
        else:  # pragma: no cover - programming error
            raise AssertionError("copy_image needs src or opener")
        try:
            dst.upload_blob(dst_repo, blob.digest, blob.size, _Counting(stream, progress))
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()
        uploaded.append(blob.digest)

    try:
        blobs = sorted(image.blobs, key=lambda b: -b.size)
        if parallel > 1 and len(blobs) > 1:
            from concurrent.futures import ThreadPoolExecutor  # only copies of several blobs

            with ThreadPoolExecutor(max_workers=min(parallel, len(blobs))) as pool:
                for future in [pool.submit(one, b) for b in blobs]:
                    future.result()
        else:
            for blob in blobs:
                one(blob)
        dst.put_manifest(dst_repo, tag, image.manifest)
    except BaseException:
        undo(lambda digest: dst.delete_blob(dst_repo, digest), uploaded)
        raise
    finally:
        progress.close()
    return image.manifest.digest


class _Counting:
    """A read()-able wrapper that reports progress as http.client pulls the body through."""

    def __init__(self, stream, progress: Progress):
        self._stream = stream
        self._progress = progress

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self._progress.add(len(data))
        return data

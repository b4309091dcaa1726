"""Storage addressed by a URI: where stages keep what they write when there is no shared file system.

A local folder (a plain path or ``file://``) by default, or any fsspec URI: ``s3://bucket/prefix`` (``pip install
'dllab[s3]'``), ``gs://``, ``memory://``, ... , the way Ray Train and Tune use ``storage_path``. Credentials and
endpoints come from the file system's own configuration (for S3: ``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, the
AWS config files), never from dllab's options.

A :class:`Storage` is a small picklable value (its URI), so it travels in a task's arguments; every node opens it
itself. Keys are ``/``-separated paths below the URI. Writes replace whole objects: on a local folder through a
temporary file and a rename, on an object store by one PUT, so a reader never sees half a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dllab.errors import DllabError
from dllab.fileio import atomic_write


def _is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


@dataclass(frozen=True)
class Storage:
    """One storage location (``uri``) and the keys below it."""

    uri: str

    def __post_init__(self):
        if not self.uri:
            raise DllabError("--storage needs a URI: a folder, or e.g. s3://bucket/prefix")

    @property
    def local(self) -> bool:
        return _is_local(self.uri)

    @property
    def _root(self) -> str:
        if self.local:
            return str(Path(self.uri.removeprefix("file://")).resolve())
        return self.uri.rstrip("/")

    def _fs(self):
        if self.local:
            return None
        try:
            import fsspec

            fs, _ = fsspec.core.url_to_fs(self._root)
        except ImportError as exc:  # fsspec knows the scheme but its package (s3fs, gcsfs, ...) is missing
            raise DllabError(f"storage {self.uri} needs a package: {exc}; for S3: pip install 'dllab[s3]'") from None
        except ValueError as exc:
            raise DllabError(f"storage {self.uri}: {exc}") from None
        return fs

    def _path(self, key: str) -> str:
        key = key.strip("/")
        return f"{self._root}/{key}" if key else self._root

    def child(self, prefix: str) -> Storage:
        """The storage below ``prefix``."""
        return Storage(self._path(prefix))

    def put(self, key: str, data: bytes) -> None:
        if self.local:
            atomic_write(Path(self._path(key)), data)
        else:
            self._guard(lambda fs: fs.pipe_file(self._path(key), data), f"write {key}")

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is none."""
        if self.local:
            try:
                return Path(self._path(key)).read_bytes()
            except FileNotFoundError:
                return None
        return self._guard(lambda fs: fs.cat_file(self._path(key)), f"read {key}", missing_ok=True)

    def keys(self, prefix: str = "") -> list[str]:
        """Every key below ``prefix`` (relative to this storage), sorted."""
        base = self._path(prefix)
        if self.local:
            root = Path(base)
            if not root.is_dir():
                return []
            return sorted(p.relative_to(self._root).as_posix() for p in root.rglob("*") if p.is_file()
                          and ".tmp" not in p.name)
        def find(fs):
            fs.invalidate_cache()  # listings are cached per process; other processes write here too
            return fs.find(base)

        found = self._guard(find, f"list {prefix or '/'}", missing_ok=True) or []
        root = self._fs()._strip_protocol(self._root)
        return sorted(p[len(root):].lstrip("/") for p in found)

    def exists(self, prefix: str = "") -> bool:
        """Whether anything is stored below ``prefix``."""
        return bool(self.keys(prefix))

    def download(self, prefix: str, folder: Path) -> list[Path]:
        """Copy every object below ``prefix`` into ``folder`` (same relative paths); returns the files written."""
        written = []
        for key in self.keys(prefix):
            data = self.get(key)
            if data is None:
                continue
            target = Path(folder) / key[len(prefix.strip("/")):].lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, data)
            written.append(target)
        return written

    def upload(self, folder: Path, prefix: str, files: list[Path] | None = None) -> None:
        """Copy ``files`` (default: every file) of ``folder`` below ``prefix``."""
        folder = Path(folder)
        for path in files if files is not None else sorted(p for p in folder.rglob("*") if p.is_file()):
            if path.is_file() and ".tmp" not in path.name and not path.name.startswith("."):
                self.put(f"{prefix.strip('/')}/{path.relative_to(folder).as_posix()}", path.read_bytes())

    def _guard(self, op, what: str, missing_ok: bool = False):
        try:
            return op(self._fs())
        except FileNotFoundError as exc:
            if missing_ok:
                return None
            hint = "" if "bucket" in str(exc).lower() else " (does the bucket exist?)"
            raise DllabError(f"storage {self.uri}: cannot {what}: {exc or 'not found'}{hint}") from None
        except DllabError:
            raise
        except Exception as exc:  # credentials, endpoint, permissions: one line naming the storage
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DllabError(f"storage {self.uri}: cannot {what}: {text}") from None


"""Index versions inside one index root, and the ``current`` pointer that selects one.

Layout of an index root::

    <root>/versions/<id>/   complete index folders (see :mod:`indexer.artifact`), one per build
    <root>/current          symlink to versions/<id>: the version readers load
    <root>/versions/.staging-*   a build in progress (never selected; a dead one is removed)
    <root>/.current-*       the next ``current`` link, until renamed over it (likewise)
    <root>/.lock            held by whoever publishes, rolls back or prunes
    <root>/.build.lock      held by a build from start to end (see :func:`building`)

A process serving a version holds a shared lock on its folder (:class:`ServedVersion`), and
pruning deletes no version so held: between two reloads of a service, several builds would
otherwise delete the version it still serves, and with it the way back to it.

Why: a build writes a new folder and only then flips ``current`` with one atomic rename, so a
reader (a starting or reloading service) sees the old version or the new one, never a mix, and
a build killed at any moment (``kill -9``, full disk) leaves ``current`` as it was. Old
versions stay for rollback until pruned. Version ids sort by build time.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from indexer import durable

VERSIONS_DIR = "versions"
CURRENT_LINK = "current"
LOCK_FILE = ".lock"
BUILD_LOCK_FILE = ".build.lock"
_STAGING_PREFIX = ".staging-"
_CURRENT_PREFIX = f".{CURRENT_LINK}-"
# v<sequence>-<UTC build time>: the sequence orders versions even within one second or
# across a clock change; the time tells a reader when it was built.
_VERSION_ID = re.compile(r"^v(\d{6,})-\d{8}T\d{6}Z$")


class VersionError(RuntimeError):
    """The index root or the requested version cannot be used; the message says why."""


# Why a version folder cannot be served (damaged, built with another model), None if it can.
Refusal = Callable[[Path], str | None]


@dataclass(frozen=True)
class Version:
    """One complete build inside an index root."""

    id: str
    path: Path
    current: bool


class ServedVersion:
    """A shared lock on a version folder for as long as a process serves it.

    Shared, so that every worker of a service can hold it at once; a lock on the folder,
    not a file written in it, so that a service needs no write access to the index. The
    lock dies with the process: a killed service holds nothing. ``flock`` locks are seen by
    the processes of one host: services on other hosts of a network share are not (README).
    """

    def __init__(self, folder: Path) -> None:
        self._descriptor: int | None = None
        try:
            descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:  # not a folder any more: nothing to hold, and nothing to delete
            return
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH)
            # Pruning renames a folder under its own lock before deleting it: one locked
            # while that happened is no longer the version at ``folder``.
            held = os.fstat(descriptor).st_ino == os.stat(folder).st_ino
        except OSError:  # no locks on this file system, or the folder is gone: unprotected
            held = False
        if not held:
            os.close(descriptor)
            return
        self._descriptor = descriptor

    def release(self) -> None:
        """Let pruning delete the version again (a reload has replaced it)."""
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None

    def __del__(self) -> None:
        self.release()


def is_served(folder: Path) -> bool:
    """Whether a process holds ``folder`` as served (:class:`ServedVersion`)."""
    with _granted(folder, fcntl.LOCK_EX) as free:
        return not free


@contextlib.contextmanager
def _granted(path: Path, operation: int) -> Iterator[bool]:
    """Whether the lock ``operation`` (``LOCK_SH`` or ``LOCK_EX``) on ``path`` is granted at
    once, held inside when it is: nobody holds a lock that excludes it. Granted too when
    ``path`` cannot be opened (gone: nobody holds it) or its file system has no locks."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        yield True
        return
    try:
        try:
            fcntl.flock(descriptor, operation | fcntl.LOCK_NB)
            granted = True
        except BlockingIOError:
            granted = False
        except OSError:
            granted = True
        yield granted
    finally:
        os.close(descriptor)  # and with it the lock


def resolve(root: Path) -> Path:
    """The folder to read: ``root/current``'s target, or ``root`` itself if it is a version.

    A bare version folder (copied elsewhere, or from before versions existed) stays readable.
    """
    link = root / CURRENT_LINK
    if link.is_symlink() or link.is_dir():
        return link.resolve()
    return root


def version_of(folder: Path) -> str:
    """The version id of a resolved index folder ("unversioned" for a bare folder)."""
    return folder.name if _VERSION_ID.match(folder.name) else "unversioned"


def current_id(root: Path) -> str | None:
    """Id of the version ``current`` points to, or None when there is none."""
    link = root / CURRENT_LINK
    if not link.is_symlink():
        return None
    return Path(os.readlink(link)).name


def root_of_other_version(folder: Path) -> Path | None:
    """The index root that holds ``folder`` as a version other than its current one; None
    for the current version, a staging folder or a folder outside any root.

    Advice differs: a damaged current version is replaced by a build, while an older one is
    never repaired by a build (it makes a new version of today's corpus).
    """
    if folder.parent.name != VERSIONS_DIR or not _VERSION_ID.match(folder.name):
        return None
    root = folder.parent.parent
    return root if current_id(root) != folder.name else None


def list_versions(root: Path) -> list[Version]:
    """Complete versions, oldest first (a staging folder is never listed)."""
    folder = root / VERSIONS_DIR
    if not folder.is_dir():
        return []
    selected = current_id(root)
    found = [p for p in folder.iterdir() if p.is_dir() and _VERSION_ID.match(p.name)]
    found.sort(key=lambda p: _sequence(p.name))
    return [Version(path.name, path, path.name == selected) for path in found]


def check_root(root: Path) -> None:
    """Refuse a ``root`` inside another index root (``<r>/current``, a version, its cache).

    ``<r>/current`` and ``<r>/versions/<id>`` look like folders to write into; a build there
    would nest a second root inside a published version, which then no longer matches its own
    manifest, and ``<r>`` could not be served any more. Anywhere else in ``<r>`` (its
    ``embedding-cache/``) it embedded the whole corpus again into a root no service reads.
    """
    for folder in root.resolve().parents:
        if _is_index_root(folder):
            raise VersionError(
                f"{root} is inside the index root {folder}; build into {folder} instead"
            )


def _is_index_root(folder: Path) -> bool:
    """``folder/current`` points at ``versions/<version id>``, or ``folder/versions`` holds a
    version (not any ``current`` link or ``versions`` folder: an application deployed as
    ``app/current -> versions/1.2`` is no index root)."""
    link = folder / CURRENT_LINK
    if link.is_symlink():
        target = Path(os.readlink(link))
        if target.parent == Path(VERSIONS_DIR) and _VERSION_ID.match(target.name):
            return True
    try:
        return any(_VERSION_ID.match(p.name) for p in (folder / VERSIONS_DIR).iterdir())
    except OSError:  # none there, or a folder this user may not read: no root of theirs
        return False


@contextlib.contextmanager
def building(root: Path) -> Iterator[None]:
    """Held by a build from before it reads the corpus until it has published.

    Why: a build reads the corpus, decides whether the index is current and embeds, all before
    it publishes. Two overlapping builds could otherwise publish an older reading of the corpus
    last (a report deleted meanwhile would be served again, after the second build had said
    "up to date") or both publish and prune rollback versions. A second build fails at once.
    """
    check_root(root)
    _not_a_file(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cannot_write(root, exc) from exc
    # A root this process cannot write (mounted read-only, another user's) gets no lock: no
    # build can publish there, so there is nothing to keep apart. The up-to-date check still
    # runs, and a build that would write is refused by check_writable before embedding.
    busy = "another build of {root} is running; wait for it"
    with _locked(root, BUILD_LOCK_FILE, busy, unwritable_ok=True):
        yield


def build_advice(root: Path) -> str:
    """What to do about a root without an index yet: wait for the build that holds it, or
    run one. The advice to run a build was the command already running, for the whole of a
    first build (the root then exists, its version not yet)."""
    # Shared: probes that took the lock exclusively would see each other as a build.
    with _granted(root / BUILD_LOCK_FILE, fcntl.LOCK_SH) as free:
        if not free:
            return "a build of it is running: wait for it to publish its first version"
    return f"build one with `report-index build --out {root}`"


def check_writable(root: Path) -> None:
    """Raise VersionError unless a version can be written under ``root``.

    Called before a build embeds anything, so that a mistyped or read-only ``--out`` fails
    at once rather than after the whole corpus has been embedded. The root itself too: the
    next ``current`` link is made there, and with ``versions/`` alone writable a build
    published its version and then failed to select it.
    """
    try:
        (root / VERSIONS_DIR).mkdir(parents=True, exist_ok=True)
        for folder in (root, root / VERSIONS_DIR):
            with tempfile.TemporaryFile(dir=folder):
                pass
    except OSError as exc:
        raise _cannot_write(root, exc) from exc
    require_current_link(root)


def require_current_link(root: Path) -> None:
    """``current`` must be a symlink (or absent) for a version to be selected. A root copied
    with links followed (``cp -rL``, ``rsync -L``, an archive) has a folder there: the build
    embedded everything and only then failed, leaving an orphan version."""
    link = root / CURRENT_LINK
    if link.exists() and not link.is_symlink():
        raise VersionError(
            f"{link} is not a link to a version (was the index root copied with its links "
            f"followed?); builds and rollbacks need one: move it away to use {root} as an "
            "index root"
        )


def _not_a_file(root: Path) -> None:
    """Refuse a ``root`` that is a file: "File exists" said nothing of what was wrong, and
    the advice to build there was the command that had just failed."""
    if root.exists() and not root.is_dir():
        raise VersionError(f"{root} is a file, not an index root; an index root is a folder")


def _cannot_write(root: Path, exc: OSError | RuntimeError) -> VersionError:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
    return VersionError(f"cannot write an index at {root}: {reason}")


def publish(
    root: Path,
    write: Callable[[Path], None],
    keep: int,
    refusal: Refusal | None = None,
) -> str:
    """Write a new version with ``write(folder)``, make it current, prune; return its id.

    ``write`` fills an empty staging folder; if it raises, or ``refusal`` finds the folder
    unservable, the staging folder is removed and ``current`` is untouched: a version that
    does not load would stop the next start of every service. Only a folder that ``write``
    completed is renamed into ``versions/`` and then selected. Pruning keeps the ``keep``
    newest versions that ``refusal`` finds nothing against (default: all count), and the
    version that was current until now: services still serve it until they reload, and
    after a rollback it can be older than the ``keep`` newest (rolling back to it again must
    still work).
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / VERSIONS_DIR).mkdir(exist_ok=True)
    with _locked(root):
        _remove_dead_leftovers(root)
        staging = root / VERSIONS_DIR / f"{_STAGING_PREFIX}{secrets.token_hex(4)}"
        staging.mkdir()
        try:
            write(staging)
            problem = refusal(staging) if refusal else None
            if problem:
                raise VersionError(
                    "the index just written does not load, so it was not published and the "
                    "current version is unchanged (a bug of the indexer; please report it): "
                    f"{problem}"
                )
            durable.fsync_dir(staging)
            version_id = _new_id(root)
            final = root / VERSIONS_DIR / version_id
            staging.rename(final)
            durable.fsync_dir(root / VERSIONS_DIR)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            # A full disk in words (numpy names no file, FAISS raises RuntimeError); anything
            # else, a refused version included, as it is.
            if isinstance(exc, OSError | RuntimeError) and not isinstance(exc, VersionError):
                raise _cannot_write(root, exc) from exc
            raise
        served = current_id(root)
        _point_current(root, version_id)
        _prune(root, keep, refusal, spare=served)
    return version_id


def activate(
    root: Path,
    version_id: str | None = None,
    refusal: Refusal | None = None,
    skipped: Callable[[str], None] = lambda _: None,
) -> str:
    """Point ``current`` at ``version_id``, or at the newest version before the current one
    that ``refusal`` accepts.

    ``refusal`` says why a version folder cannot be served (a damaged version would otherwise
    become current, and the next start of the service would fail). Each version passed over
    on the way is told to ``skipped`` ("<id>: <reason>"): an operator who meant to roll back
    one step should learn that the version before was damaged, not guess from the id.
    """
    building_now = "a build of {root} is running; roll back once it has published"
    with _locked(root, BUILD_LOCK_FILE, building_now), _locked(root):
        versions = list_versions(root)
        if not versions:
            # Not build_advice: this holds the build lock itself, which it would take for a build.
            raise VersionError(
                f"no index versions in {root}; build one with `report-index build --out {root}`"
            )
        ids = [v.id for v in versions]
        if version_id is None:
            version_id = _previous_usable(root, ids, refusal, skipped)
        elif version_id not in ids:
            raise VersionError(
                f"no version {version_id!r} in {root}; versions: {', '.join(ids) or 'none'}"
            )
        elif refusal is not None and (reason := refusal(root / VERSIONS_DIR / version_id)):
            raise VersionError(f"{version_id} cannot be served: {reason}")
        _point_current(root, version_id)
    return version_id


def _previous_usable(
    root: Path, ids: list[str], refusal: Refusal | None, skipped: Callable[[str], None]
) -> str:
    """The newest version older than the current one that ``refusal`` accepts.

    Versions it refuses (damaged, another model's) are skipped: the one just before the
    current one may be such a version, kept by pruning (:func:`_prune`).
    """
    selected = current_id(root)
    position = ids.index(selected) if selected in ids else len(ids)
    if position == 0:
        raise VersionError(f"{selected} is the oldest version in {root}: nothing to roll back to")
    refusals: list[str] = []
    for candidate in reversed(ids[:position]):
        reason = refusal(root / VERSIONS_DIR / candidate) if refusal is not None else None
        if reason is None:
            for refused in refusals:
                skipped(refused)
            return candidate
        refusals.append(f"{candidate}: {reason}")
    raise VersionError(
        f"no older version of {root} can be served: " + "; ".join(reversed(refusals))
    )


def _prune(root: Path, keep: int, refusal: Refusal | None, spare: str | None) -> None:
    """Delete the versions ``refusal`` accepts but the current one, ``spare``, the ``keep``
    newest and those a process serves (:class:`ServedVersion`).

    A version that cannot be served (damaged, or built with another model) neither counts
    nor is deleted: counted, it took the place of a good version and left nothing to roll
    back to; it may still be wanted (the model setting changed back, a damaged file to
    inspect), and ``report-index list`` shows why it cannot be served.
    """
    candidates = [v for v in list_versions(root) if refusal is None or refusal(v.path) is None]
    doomed = [
        v for v in candidates[: max(len(candidates) - keep, 0)] if not v.current and v.id != spare
    ]
    for version in doomed:
        # Renamed out of versions/ first, so a half-deleted folder is never listed or selected;
        # under an exclusive lock, so that no service takes the version meanwhile.
        with _granted(version.path, fcntl.LOCK_EX) as free:
            if not free:
                continue
            trash = version.path.with_name(f"{_STAGING_PREFIX}deleting-{version.id}")
            version.path.rename(trash)
        shutil.rmtree(trash, ignore_errors=True)


def _point_current(root: Path, version_id: str) -> None:
    """Switch ``root/current`` to ``versions/<id>`` with one atomic rename of a new symlink."""
    require_current_link(root)
    link = root / CURRENT_LINK
    temporary = root / f"{_CURRENT_PREFIX}{secrets.token_hex(4)}"
    os.symlink(Path(VERSIONS_DIR) / version_id, temporary)
    os.replace(temporary, link)
    durable.fsync_dir(root)


def _sequence(version_id: str) -> int:
    match = _VERSION_ID.match(version_id)
    return int(match[1]) if match else 0


def _new_id(root: Path) -> str:
    sequence = max((_sequence(v.id) for v in list_versions(root)), default=0) + 1
    return f"v{sequence:06d}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"


def _remove_dead_leftovers(root: Path) -> None:
    """Staging folders and ``current`` links not yet renamed into place, seen under the lock,
    belong to builds that died (the lock dies with them)."""
    for path in (root / VERSIONS_DIR).glob(f"{_STAGING_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)
    for link in root.glob(f"{_CURRENT_PREFIX}*"):
        if link.is_symlink():
            link.unlink()


@contextlib.contextmanager
def _locked(
    root: Path,
    name: str = LOCK_FILE,
    busy: str = "another build or rollback is writing {root}; wait for it to finish",
    unwritable_ok: bool = False,
) -> Iterator[None]:
    """One writer at a time per root (two builds would otherwise race on ``current``).

    With ``unwritable_ok``, a lock file that cannot be created is no error: the caller then
    runs unlocked (see :func:`building`).
    """
    _not_a_file(root)
    if not root.is_dir():
        raise VersionError(
            f"no index root at {root}; build one with `report-index build --out {root}`"
        )
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(durable.exclusive_lock(root / name, wait=False))
        except BlockingIOError as exc:
            raise VersionError(busy.format(root=root)) from exc
        except OSError as exc:
            if not unwritable_ok:
                raise _cannot_write(root, exc) from exc
        yield

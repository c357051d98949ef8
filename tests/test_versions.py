"""Index versions: publish, list, rollback, prune, and builds that die half-way."""

from __future__ import annotations

import dataclasses
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from indexer import versions
from indexer.artifact import load_index
from indexer.build import build_index
from indexer.cli import app as index_app
from indexer.settings import Settings
from indexer.versions import VersionError

runner = CliRunner()


def _writer(text: str):
    def write(folder: Path) -> None:
        (folder / "manifest.json").write_text(text, "utf-8")

    return write


def _current_text(root: Path) -> str:
    return (versions.resolve(root) / "manifest.json").read_text("utf-8")


def test_each_publish_is_a_new_current_version(tmp_path):
    first = versions.publish(tmp_path, _writer("one"), keep=5)
    second = versions.publish(tmp_path, _writer("two"), keep=5)
    assert first < second  # ids sort by build time
    assert [v.id for v in versions.list_versions(tmp_path)] == [first, second]
    assert versions.current_id(tmp_path) == second
    assert _current_text(tmp_path) == "two"


def test_failed_write_leaves_current_and_no_staging(tmp_path):
    kept = versions.publish(tmp_path, _writer("good"), keep=5)

    def broken(folder: Path) -> None:
        (folder / "manifest.json").write_text("half", "utf-8")
        raise OSError(28, "No space left on device")  # as numpy and FAISS raise it: no file

    with pytest.raises(VersionError, match=f"cannot write an index at {tmp_path}: No space"):
        versions.publish(tmp_path, broken, keep=5)

    def faiss_full(folder: Path) -> None:
        raise RuntimeError("Error in faiss::write_index: write error (No space left on device)")

    with pytest.raises(VersionError, match=r"cannot write an index at .*No space"):
        versions.publish(tmp_path, faiss_full, keep=5)
    assert versions.current_id(tmp_path) == kept
    assert _current_text(tmp_path) == "good"
    assert sorted(p.name for p in (tmp_path / "versions").iterdir()) == [kept]


def test_rollback_to_previous_and_to_a_named_version(tmp_path):
    ids = [versions.publish(tmp_path, _writer(str(i)), keep=5) for i in range(3)]
    assert versions.activate(tmp_path) == ids[1]
    assert _current_text(tmp_path) == "1"
    assert versions.activate(tmp_path, ids[2]) == ids[2]
    with pytest.raises(VersionError, match="no version 'nope'"):
        versions.activate(tmp_path, "nope")
    versions.activate(tmp_path, ids[0])
    with pytest.raises(VersionError, match="oldest"):
        versions.activate(tmp_path)


def test_publishing_keeps_the_newest_versions_and_the_one_served_until_now(tmp_path):
    ids = [versions.publish(tmp_path, _writer(str(i)), keep=10) for i in range(4)]
    # A rollback to the oldest: services serve it until they reload after the next build,
    # and rolling back to it again must still work meanwhile.
    versions.activate(tmp_path, ids[0])
    newest = versions.publish(tmp_path, _writer("4"), keep=2)
    assert [v.id for v in versions.list_versions(tmp_path)] == [ids[0], ids[3], newest]
    assert _current_text(tmp_path) == "4"
    assert versions.activate(tmp_path, ids[0]) == ids[0]
    versions.activate(tmp_path, newest)
    last = versions.publish(tmp_path, _writer("5"), keep=1)
    assert [v.id for v in versions.list_versions(tmp_path)] == [newest, last]


def test_a_second_writer_is_refused_while_one_holds_the_root(tmp_path):
    def nested(folder: Path) -> None:
        versions.publish(tmp_path, _writer("inner"), keep=5)

    with pytest.raises(VersionError, match="another build"):
        versions.publish(tmp_path, nested, keep=5)
    assert versions.list_versions(tmp_path) == []


def test_cli_lists_and_rolls_back(index_dir, settings, tmp_path, monkeypatch):
    root = tmp_path / "root"
    loaded = load_index(index_dir)
    from indexer.artifact import IndexVectors, write_index

    vectors = IndexVectors(
        passages=loaded.vectors.reconstruct_n(0, loaded.vectors.ntotal),
        sentences=loaded.sentences,
        hubness=loaded.hubness,
    )
    ids = [
        write_index(root, loaded.manifest, list(loaded.passages), vectors, keep=3) for _ in range(2)
    ]
    listed = runner.invoke(index_app, ["list", "--index", str(root)])
    assert listed.exit_code == 0, listed.output
    assert f"* {ids[1]}" in listed.output and f"  {ids[0]}" in listed.output
    assert "served by a running service" not in listed.output
    lease = versions.ServedVersion(root / versions.VERSIONS_DIR / ids[0])
    listed = runner.invoke(index_app, ["list", "--index", str(root)])
    (served,) = [line for line in listed.output.splitlines() if "served by" in line]
    assert served.startswith(f"  {ids[0]}  ") and served.endswith("; served by a running service")
    lease.release()
    # A damaged previous version is listed as such and refused, as the default target or
    # by name.
    (root / versions.VERSIONS_DIR / ids[0] / "hubness.npy").write_bytes(b"damaged")
    listed = runner.invoke(index_app, ["list", "--index", str(root)])
    assert f"  {ids[0]}  cannot be served: " in listed.output, listed.output
    # Not current: a build would make a new version rather than repair it.
    advice = listed.output.split(ids[0], 1)[1].split("\n")[0]
    assert "report-index build" not in advice, advice
    assert f"`rm -r {root / versions.VERSIONS_DIR / ids[0]}`" in advice, advice
    assert f"* {ids[1]}  {loaded.manifest.passage_count} passages" in listed.output
    for args in ([], [ids[0]]):
        refused = runner.invoke(index_app, ["rollback", *args, "--index", str(root)])
        assert refused.exit_code == 1 and "damaged" in refused.output, refused.output
        assert load_index(root).version == ids[1]
    newest = write_index(root, loaded.manifest, list(loaded.passages), vectors, keep=3)
    rolled = runner.invoke(index_app, ["rollback", "--index", str(root)])
    assert rolled.exit_code == 0, rolled.output
    assert load_index(root).version == ids[1] != newest
    # So is a version another model built: no service of this model could serve it.
    foreign = dataclasses.replace(
        loaded.manifest, model=dataclasses.replace(loaded.manifest.model, checksum="0" * 64)
    )
    other = write_index(root, foreign, list(loaded.passages), vectors, keep=5)
    runner.invoke(index_app, ["rollback", ids[1], "--index", str(root)])
    refused = runner.invoke(index_app, ["rollback", other, "--index", str(root)])
    assert refused.exit_code == 1 and "was built with model" in refused.output, refused.output
    assert load_index(root).version == ids[1]
    listed = runner.invoke(index_app, ["list", "--index", str(root)])
    assert f"  {other}  cannot be served: " in listed.output, listed.output
    assert "was built with model" in listed.output.split(other, 1)[1].split("\n")[0]
    unknown = runner.invoke(
        index_app, ["rollback", "v999999-20990101T000000Z", "--index", str(root)]
    )
    assert unknown.exit_code == 1
    assert load_index(root).version == ids[1]
    empty = runner.invoke(index_app, ["list", "--index", str(tmp_path / "none")])
    assert empty.exit_code == 1 and "no index versions" in empty.output
    # A current version that cannot be served is listed, and the listing fails.
    (root / versions.VERSIONS_DIR / ids[1] / "hubness.npy").write_bytes(b"damaged")
    listed = runner.invoke(index_app, ["list", "--index", str(root)])
    assert listed.exit_code == 1 and f"* {ids[1]}  cannot be served" in listed.output
    assert "report-index build --force" in listed.output.split(f"* {ids[1]}", 1)[1]
    assert "the current version cannot be served" in listed.output


def test_a_root_copied_with_its_links_followed_is_refused_before_any_work(
    index_dir, settings, tmp_path
):
    """`cp -rL` turns `current` into a folder: the build embedded everything and only then
    failed, leaving an orphan version; `list` marked nothing current and exited 0."""
    root = tmp_path / "copied"
    shutil.copytree(index_dir, root, symlinks=False)
    assert (root / versions.CURRENT_LINK).is_dir() and not (
        root / versions.CURRENT_LINK
    ).is_symlink()
    before = sorted(p.name for p in (root / versions.VERSIONS_DIR).iterdir())
    with pytest.raises(versions.VersionError, match="is not a link to a version"):
        build_index(settings, settings.corpus_dir, root, force=True)
    assert sorted(p.name for p in (root / versions.VERSIONS_DIR).iterdir()) == before
    listed = runner.invoke(index_app, ["list", "--index", str(root)])
    assert listed.exit_code == 1 and "is not a link to a version" in listed.output


def test_a_version_is_read_whole_while_current_moves(index_dir, tmp_path, monkeypatch):
    """A build or rollback may move `current` while a service loads the index: the manifest
    must come from the same version as the vectors, or a forced rebuild with another model
    would pass the model check with the new manifest over the old vectors."""
    from indexer.artifact import IndexVectors, write_index

    loaded = load_index(index_dir)
    vectors = IndexVectors(
        passages=loaded.vectors.reconstruct_n(0, loaded.vectors.ntotal),
        sentences=loaded.sentences,
        hubness=loaded.hubness,
    )
    root = tmp_path / "root"
    old = write_index(root, loaded.manifest, list(loaded.passages), vectors, keep=3)
    other = dataclasses.replace(loaded.manifest.model, checksum="0" * 64)
    new = write_index(
        root, dataclasses.replace(loaded.manifest, model=other), list(loaded.passages), vectors, 3
    )
    folders = iter([root / versions.VERSIONS_DIR / old])
    moved = root / versions.VERSIONS_DIR / new
    monkeypatch.setattr(versions, "resolve", lambda _: next(folders, moved))
    read = load_index(root)
    assert read.version == old and read.manifest.model == loaded.manifest.model


_KILLABLE_BUILD = """
import sys, time
from pathlib import Path
import indexer.artifact as artifact

def stall(path, data):  # the manifest is the last file of a version: stall right before it
    Path(sys.argv[1]).touch()
    time.sleep(600)

artifact._write_json = stall
from indexer.cli import app
app(sys.argv[2:])
"""


def test_build_killed_mid_write_leaves_the_current_version_servable(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "note.txt").write_text(
        "RAPPORT\n\nLa coopération policière internationale progresse. "
        "Les bases de données sont consultées chaque jour.\n",
        "utf-8",
    )
    root = tmp_path / "index"
    settings = Settings(corpus_dir=corpus, index_dir=root)
    first = build_index(settings, corpus, root).version
    stalled = tmp_path / "stalled"
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLABLE_BUILD, str(stalled), "build", "--force"],
        env={**os.environ, "REPORT_CORPUS_DIR": str(corpus), "REPORT_INDEX_DIR": str(root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while not stalled.exists():
            assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the build never reached its last write"
            time.sleep(0.2)
        assert list((root / "versions").glob(".staging-*"))  # killed with a half-written version
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert versions.current_id(root) == first
    assert load_index(root).version == first
    assert [v.id for v in versions.list_versions(root)] == [first]
    rebuilt = build_index(settings, corpus, root, force=True).version
    assert rebuilt != first
    assert not list((root / "versions").glob(".staging-*"))  # the dead build's folder is gone


def test_a_second_build_of_a_root_is_refused_while_one_runs(tmp_path, settings):
    root = tmp_path / "index"
    with versions.building(root), pytest.raises(VersionError, match="another build"):
        build_index(settings, settings.corpus_dir, root)
    assert versions.list_versions(root) == []


def test_a_version_folder_is_refused_as_a_root(index_dir, tmp_path):
    root = tmp_path / "index"
    shutil.copytree(index_dir, root, symlinks=True)
    version = versions.current_id(root)
    for inside in (
        root / versions.CURRENT_LINK,
        root / versions.VERSIONS_DIR / str(version),
        root / versions.VERSIONS_DIR / str(version) / "nested",
        # Anywhere else inside a root: its cache became a second root, embedded from scratch.
        root / "embedding-cache",
        root / "elsewhere" / "index",
    ):
        with pytest.raises(VersionError, match=f"build into {root}"):
            versions.check_root(inside)
        built = runner.invoke(index_app, ["build", "--out", str(inside)])
        assert built.exit_code == 1 and "build into" in built.output, built.output
    assert load_index(root).version == version
    assert not (root / "embedding-cache" / versions.VERSIONS_DIR).exists()
    assert not (root / "elsewhere").exists()
    assert sorted(p.name for p in (root / versions.CURRENT_LINK).iterdir()) == sorted(
        p.name for p in (index_dir / versions.CURRENT_LINK).iterdir()
    )


def test_rollback_of_a_missing_root_is_one_line(tmp_path):
    for root in (tmp_path / "none", tmp_path / "file"):
        if root.name == "file":
            root.write_text("x")
        result = runner.invoke(index_app, ["rollback", "--index", str(root)])
        assert result.exit_code == 1
        assert result.output.startswith("error:") and "Traceback" not in result.output


def test_a_dead_builds_current_link_is_removed_by_the_next_publish(tmp_path):
    """A build killed between making the next ``current`` link and renaming it over
    ``current`` left it in the root for good."""
    versions.publish(tmp_path, _writer("1"), keep=5)
    (tmp_path / ".current-0badf00d").symlink_to(Path(versions.VERSIONS_DIR) / "v000001-x")
    versions.publish(tmp_path, _writer("2"), keep=5)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".current")) == []
    assert _current_text(tmp_path) == "2"


def test_a_rollback_waits_for_a_running_build_to_publish(tmp_path):
    first = versions.publish(tmp_path, _writer("1"), keep=5)
    versions.publish(tmp_path, _writer("2"), keep=5)
    with versions.building(tmp_path), pytest.raises(VersionError, match="a build"):
        versions.activate(tmp_path, first)
    assert _current_text(tmp_path) == "2"
    assert versions.activate(tmp_path, first) == first


def test_an_application_deployed_with_a_current_link_is_no_index_root(tmp_path):
    app = tmp_path / "app"
    (app / "versions" / "1.2").mkdir(parents=True)
    (app / versions.CURRENT_LINK).symlink_to(Path("versions") / "1.2")
    versions.check_root(app / versions.CURRENT_LINK / "index")  # not refused


def test_pruning_keeps_versions_that_can_be_served(index_dir, tmp_path):
    """Damaged versions and versions of another model do not count towards `keep` (kept
    instead of good ones, they left nothing to roll back to), nor are they deleted."""
    from indexer.artifact import IndexVectors, write_index

    loaded = load_index(index_dir)
    vectors = IndexVectors(
        passages=loaded.vectors.reconstruct_n(0, loaded.vectors.ntotal),
        sentences=loaded.sentences,
        hubness=loaded.hubness,
    )
    foreign = dataclasses.replace(
        loaded.manifest, model=dataclasses.replace(loaded.manifest.model, checksum="0" * 64)
    )
    root = tmp_path / "root"

    def publish(manifest=loaded.manifest):
        return write_index(root, manifest, list(loaded.passages), vectors, keep=10)

    good = [publish() for _ in range(3)]
    damaged = publish()
    (root / versions.VERSIONS_DIR / damaged / "hubness.npy").write_bytes(b"damaged")
    other_model = publish(foreign)
    newest = write_index(root, loaded.manifest, list(loaded.passages), vectors, keep=3)
    kept = [v.id for v in versions.list_versions(root)]
    assert kept == [good[1], good[2], damaged, other_model, newest]
    # A plain rollback skips them to the newest version that can be served, and says so.
    rolled = runner.invoke(index_app, ["rollback", "--index", str(root)])
    assert rolled.exit_code == 0, rolled.output
    assert load_index(root).version == good[2]
    said = rolled.output.splitlines()
    assert said[0].startswith(f"skipped {other_model}: ") and "built with model" in said[0]
    assert said[1].startswith(f"skipped {damaged}: ") and "hubness.npy" in said[1]
    assert said[2:] == [f"current version of {root}: {good[2]}"]


def test_a_root_that_cannot_be_written_is_refused_before_a_build(tmp_path, monkeypatch):
    """From an operator's review: with ``versions/`` writable and the root not, a build
    embedded everything, published its version and failed to select it (the next
    ``current`` link is made in the root), leaving a version newer than the current one."""
    real = versions.tempfile.TemporaryFile

    def read_only_root(*args, dir=None, **kwargs):
        if Path(dir) == tmp_path:
            raise PermissionError(13, "Permission denied", str(tmp_path))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(versions.tempfile, "TemporaryFile", read_only_root)
    with pytest.raises(VersionError, match=f"cannot write an index at {tmp_path}: Permission"):
        versions.check_writable(tmp_path)


def test_a_version_a_process_serves_is_not_pruned_until_it_lets_go(tmp_path):
    """From an operator's review: three builds between two reloads of a service deleted the
    version it served, and with it the way back to it."""
    served = versions.publish(tmp_path, _writer("served"), keep=1)
    lease = versions.ServedVersion(tmp_path / "versions" / served)
    assert versions.is_served(tmp_path / "versions" / served)
    newer = [versions.publish(tmp_path, _writer(str(n)), keep=1) for n in range(3)]
    assert [v.id for v in versions.list_versions(tmp_path)] == [served, *newer[-2:]]
    lease.release()
    assert not versions.is_served(tmp_path / "versions" / served)
    last = versions.publish(tmp_path, _writer("last"), keep=1)
    assert [v.id for v in versions.list_versions(tmp_path)] == [newer[-1], last]
    # Another process's lease counts as this one's does (a service's, not the build's).
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from indexer import versions; "
            "lease = versions.ServedVersion(Path(sys.argv[1])); print('held', flush=True); "
            "time.sleep(60)",
            str(tmp_path / "versions" / newer[-1]),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        versions.publish(tmp_path, _writer("after"), keep=1)
        assert newer[-1] in [v.id for v in versions.list_versions(tmp_path)]
    finally:
        holder.kill()
        holder.wait()
    assert not versions.is_served(tmp_path / "versions" / newer[-1])  # died with the process


def test_while_a_first_build_runs_the_advice_is_to_wait_for_it(tmp_path):
    """From an operator's review: during a first build, `list` and `show` advised running
    `report-index build --out …`, the command already running."""
    root = tmp_path / "index"
    root.mkdir()
    with versions.building(root):
        listed = runner.invoke(index_app, ["list", "--index", str(root)])
        shown = runner.invoke(index_app, ["show", "--index", str(root)])
    for result in (listed, shown):
        said = " ".join(result.output.split())
        assert result.exit_code == 1 and "a build of it is running" in said, said
        assert "report-index build --out" not in said
    listed = runner.invoke(index_app, ["list", "--index", str(root)])
    assert f"build one with `report-index build --out {root}`" in " ".join(listed.output.split())
    # A rollback holds the build lock itself: its advice is not to wait for a build.
    rolled = runner.invoke(index_app, ["rollback", "--index", str(root)])
    said = " ".join(rolled.output.split())
    assert rolled.exit_code == 1 and "a build of it is running" not in said, said
    assert f"build one with `report-index build --out {root}`" in said


def test_a_lease_taken_while_pruning_renames_the_version_holds_nothing(tmp_path):
    """Pruning renames a version under an exclusive lock before deleting it: a service that
    opened the version meanwhile waits for the lock, then must not believe it holds it."""
    import threading

    folder = tmp_path / "versions" / "v000001-20260101T000000Z"
    folder.mkdir(parents=True)
    leases: list[versions.ServedVersion] = []
    with versions._granted(folder, fcntl.LOCK_EX) as free:
        assert free
        taking = threading.Thread(target=lambda: leases.append(versions.ServedVersion(folder)))
        taking.start()
        time.sleep(0.3)  # it has opened the folder and waits for the lock
        assert not leases
        folder.rename(tmp_path / "trash")
        folder.mkdir()  # another folder at the same path: not the one it locked
    taking.join(5)
    assert len(leases) == 1 and leases[0]._descriptor is None
    assert not versions.is_served(folder)

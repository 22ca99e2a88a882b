"""alloca_bench.results.files: hostile files are refused with a ResultFileError naming the
problem (never a hang or an unbounded read), and writing is atomic per writer, leaves no
temporary file, keeps an existing file unless forced and follows the umask."""
import os
import stat
import threading

import pytest

import alloca_bench as ab
from alloca_bench.exceptions import ResultFileError
from alloca_bench.results import files, load_all


LOAD_IN_CHILD = """
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    import alloca_bench as ab
    from alloca_bench.exceptions import ResultFileError
    try:
        ab.load(sys.argv[1])
    except ResultFileError as exc:
        print("refused:", exc)
"""  # in a child with a memory limit of 1 GiB: a hang or an endless read fails the test only


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path, python_child):
    fifo = tmp_path / "r.json"
    os.mkfifo(fifo)
    child = python_child(LOAD_IN_CHILD, str(fifo), timeout=60)
    assert child.returncode == 0, child.stderr
    assert "not a regular file" in child.stdout


def test_dev_zero_is_refused_before_reading(python_child):
    child = python_child(LOAD_IN_CHILD, "/dev/zero", timeout=60)
    assert child.returncode == 0, child.stderr
    assert "/dev/zero is not a regular file" in child.stdout


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.json"
    with open(path, "wb") as f:
        f.truncate(files.MAX_FILE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(ResultFileError, match=rf"has {files.MAX_FILE_BYTES + 1} bytes, more than"):
        ab.load(path)
    (tmp_path / "small.json").write_text("[" * 100)
    with pytest.raises(ResultFileError, match="more than a result file may have \\(10,"):
        ab.load(tmp_path / "small.json", max_bytes=10)


@pytest.mark.parametrize("max_bytes, error, said", [
    (-1, ValueError, "max_bytes must be an int >= 1 (bytes), got -1"),
    (0, ValueError, "max_bytes must be an int >= 1 (bytes), got 0"),
    ("x", TypeError, "max_bytes must be an int (bytes), not str ('x')"),
    (1.5, TypeError, "max_bytes must be an int (bytes), not float (1.5)")])
def test_a_bad_max_bytes_is_named_and_not_blamed_on_the_file(known_result, tmp_path, max_bytes,
                                                            error, said):
    known_result().save(tmp_path / "r.json")
    for read in (ab.load, load_all):
        with pytest.raises(error) as caught:
            read(tmp_path / "r.json", max_bytes=max_bytes)
        assert str(caught.value) == said and not isinstance(caught.value, ResultFileError)


def test_deeply_nested_json_is_a_result_file_error(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ResultFileError, match="deep.json"):
        ab.load(tmp_path / "deep.json")


def test_a_failed_save_leaves_no_file(known_result, tmp_path):
    r = known_result()
    r.params["callback"] = object()
    with pytest.raises(TypeError, match=r"result\['params'\]\['callback'\]"):
        r.save(tmp_path / "r.json")
    assert list(tmp_path.iterdir()) == []


def test_save_keeps_an_existing_file_unless_forced(known_result, tmp_path):
    path = tmp_path / "r.json"
    path.write_text("precious")
    with pytest.raises(FileExistsError, match="r.json exists: pass force=True"):
        known_result().save(path)
    assert path.read_text() == "precious"
    known_result().save(path, force=True)
    assert ab.load(path).complete
    assert list(tmp_path.iterdir()) == [path]


def test_write_text_replaces_only_when_forced_and_a_failure_leaves_nothing(tmp_path):
    """What save, export and report write through: UTF-8 text put in place whole."""
    path = tmp_path / "out.md"
    files.write_text(path, "µs\n")
    assert path.read_text(encoding="utf-8") == "µs\n"
    with pytest.raises(FileExistsError, match="out.md exists: pass force=True"):
        files.write_text(path, "new")
    files.write_text(path, "new", force=True)
    assert path.read_text() == "new"
    with pytest.raises(UnicodeEncodeError):  # a lone surrogate fails half-way through
        files.write_text(tmp_path / "bad.md", "x" * 10_000 + "\ud800", force=True)
    with pytest.raises(IsADirectoryError):
        files.write_text(tmp_path, "x", force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.md"]


def test_save_into_a_missing_directory_names_it(known_result, tmp_path):
    with pytest.raises(FileNotFoundError, match="the directory .*nowhere does not exist"):
        known_result().save(tmp_path / "nowhere" / "r.json")


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_saved_files_get_the_permissions_of_the_umask_at_save_time(known_result, tmp_path,
                                                                    mask):
    old = os.umask(mask)  # set after the import: the umask of the save, not of the import
    try:
        known_result().save(tmp_path / "r.json")
    finally:
        os.umask(old)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o666 & ~mask


def test_threads_saving_to_one_path_never_fail_and_readers_never_see_half_a_file(
        known_result, tmp_path):
    path = tmp_path / "r.json"
    results = [known_result(), known_result(complete=False)]
    results[0].save(path)
    errors: list = []
    done = threading.Event()

    def write(r):
        try:
            for _ in range(60):
                r.save(path, force=True)
        except Exception as exc:  # noqa: BLE001 - any failure is the finding
            errors.append(repr(exc))

    def read():
        while not done.is_set():
            try:
                ab.load(path)
            except Exception as exc:  # noqa: BLE001
                errors.append(repr(exc))

    writers = [threading.Thread(target=write, args=(r,)) for r in results]
    reader = threading.Thread(target=read)
    for t in (*writers, reader):
        t.start()
    for t in writers:
        t.join()
    done.set()
    reader.join()
    assert errors == []
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_saved_files_follow_the_umask_where_proc_is_missing(tmp_path, monkeypatch, mask):
    real_open = open

    def no_proc(file, *args, **kwargs):
        if str(file).startswith("/proc/"):
            raise FileNotFoundError(2, "No such file or directory (no /proc here)", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", no_proc)
    old = os.umask(mask)
    try:
        files.write_text(tmp_path / "r.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o666 & ~mask


def _special_files(tmp_path):
    """{kind: path} of what --force must never replace: a FIFO, a symbolic link to a file, and
    (where this process may create one) a character device like /dev/null."""
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "target").write_text("kept")
    os.symlink(tmp_path / "target", tmp_path / "link")
    found = {"a FIFO": tmp_path / "fifo", "a symbolic link": tmp_path / "link"}
    try:
        os.mknod(tmp_path / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        found["a character device"] = tmp_path / "null"
    except PermissionError:
        pass  # not root: the FIFO and the link stand for it
    return found


def test_force_never_replaces_a_device_a_fifo_or_a_symlink(tmp_path):
    for kind, path in _special_files(tmp_path).items():
        before = os.lstat(path)
        for check in (lambda: files.check_out_path(path, force=True),
                      lambda: files.write_text(path, "x", force=True)):
            with pytest.raises(FileExistsError, match=f"{path.name}: it is {kind}"):
                check()
        after = os.lstat(path)
        assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino), kind
    assert (tmp_path / "target").read_text() == "kept"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_directory_that_takes_no_new_file_is_refused_before_measuring(tmp_path):
    """Checked by creating (and removing) a file there: /proc refuses even root."""
    with pytest.raises(OSError, match=r"cannot save to /proc/r\.json: no file can be created "
                                      r"in /proc") as caught:
        files.check_out_path("/proc/r.json")
    assert ".tmp" not in str(caught.value)
    if os.geteuid() != 0:  # root writes into a mode-555 directory anyway
        (tmp_path / "ro").mkdir(mode=0o555)
        with pytest.raises(PermissionError, match="no file can be created"):
            files.check_out_path(tmp_path / "ro" / "r.json")
    files.check_out_path(tmp_path / "r.json")
    assert list(tmp_path.iterdir()) == ([tmp_path / "ro"] if os.geteuid() else [])


def test_a_directory_given_as_a_result_is_named(tmp_path):
    with pytest.raises(ResultFileError, match=f"{tmp_path} is a directory; a result file is a "
                                              "regular file"):
        ab.load(tmp_path)


@pytest.mark.parametrize("name", ["", "sub/", "sub/.", "sub/.."])
def test_a_path_that_names_no_file_is_refused_before_measuring(tmp_path, monkeypatch, name):
    """An empty path or one ending in a directory part ('out/', 'out/.') names no file: the
    rename after the work would fail, so the check refuses it first, naming the path."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(IsADirectoryError, match=f"cannot save to '{name}': it names no file"):
        files.check_out_path(name)
    assert list(tmp_path.iterdir()) == []

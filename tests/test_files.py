"""Files are written whole or not at all: the old content survives a failed write, and no
temporary is left beside the target."""

from __future__ import annotations

import pytest

from simengine.files import write_atomic, write_text


def test_a_new_file_and_a_replaced_one(tmp_path):
    path = tmp_path / "sub" / "a.yaml"
    assert write_text(path, "one") == path and path.read_text() == "one"
    write_text(path, "two")
    assert path.read_text() == "two"
    assert [p.name for p in path.parent.iterdir()] == ["a.yaml"]


@pytest.mark.parametrize("where", ["write", "check"])
def test_a_failed_write_or_check_leaves_the_old_file(tmp_path, where):
    path = tmp_path / "a.csv"
    path.write_text("old")

    def write(tmp):
        tmp.write_text("half")
        if where == "write":
            raise OSError(28, "No space left on device")

    def check(tmp):
        assert tmp.suffix == ".csv" and tmp.parent == path.parent  # same folder, same suffix
        raise ValueError("does not load")

    with pytest.raises((OSError, ValueError)):
        write_atomic(path, write, check=check if where == "check" else None)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]


def test_a_folder_replaces_a_folder(tmp_path):
    path = tmp_path / "r.zarr"
    (path / "old").mkdir(parents=True)

    def write(tmp):
        (tmp / "new").mkdir(parents=True)

    write_atomic(path, write)
    assert [p.name for p in path.iterdir()] == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["r.zarr"]

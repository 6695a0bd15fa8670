"""`fleet --shard I/N` and the workflows' matrix of shards (multus_cni_cli/fleet/shard.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from multus_cni_cli.fleet import cli, shard
from conftest import ROOT

STACKS = [f"cluster-{i:04d}" for i in range(1000)]


def test_a_shard_is_i_of_n_counted_from_one():
    assert shard.parse("1/4") == (1, 4) and shard.parse("4/4") == (4, 4)


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "1", "a/b", "-1/4", "1/4/2", ""])
def test_anything_else_is_refused_with_the_form_it_takes(text):
    with pytest.raises(ValueError, match=r"a shard is I/N with 1 <= I <= N"):
        shard.parse(text)


def test_fleet_refuses_a_bad_shard_as_a_usage_error(capsys):
    from multus_cni_cli.__main__ import main

    with pytest.raises(SystemExit) as exc:
        main(["fleet", "preview", "--all", "--shard", "3/2"])
    assert exc.value.code == 2 and "a shard is I/N" in capsys.readouterr().err


def test_the_shards_of_n_split_the_stacks_exactly_once():
    for count in (1, 2, 7, 256):
        shares = [shard.select(STACKS, index, count) for index in range(1, count + 1)]
        assert sorted(name for share in shares for name in share) == STACKS


def test_a_stacks_shard_depends_on_its_name_alone_not_on_the_process():
    """Not Python's salted hash(): every machine of a matrix computes the same shards."""
    code = "import json, sys; from multus_cni_cli.fleet import shard; print(json.dumps([shard.shard_of(s, 97) for s in sys.argv[1:]]))"
    runs = {subprocess.run([sys.executable, "-c", code, *STACKS[:50]], cwd=ROOT, check=True, timeout=60,
                           capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2")}
    assert len(runs) == 1 and json.loads(runs.pop()) == [shard.shard_of(s, 97) for s in STACKS[:50]]


def test_adding_stacks_moves_none_of_the_others_for_the_same_n():
    before = {name: shard.shard_of(name, 16) for name in STACKS[:500]}
    assert {name: shard.shard_of(name, 16) for name in STACKS if name in before} == before


def test_an_org_qualified_name_is_in_the_same_shard_as_its_stack_file():
    assert all(shard.shard_of(f"acme/multus-cni/{name}", 33) == shard.shard_of(name, 33) for name in STACKS[:100])


def test_the_shares_are_near_even():
    sizes = [len(shard.select(STACKS, index, 10)) for index in range(1, 11)]
    assert min(sizes) > 70 and max(sizes) < 130  # 100 expected each; binomial sd ~9.5


@pytest.mark.parametrize("stacks, jobs", [(1, 1), (6, 1), (8, 1), (9, 2), (1000, 125), (2048, 256), (5000, 256)])
def test_the_matrix_stays_within_githubs_limit_and_covers_every_stack_once(stacks, jobs):
    names = [f"s{i}" for i in range(stacks)]
    shards = shard.matrix(names)
    count = {int(entry.split("/")[1]) for entry in shards}
    assert len(count) == 1 and count.pop() == jobs and len(shards) <= shard.MATRIX_LIMIT
    covered = [name for entry in shards for name in shard.select(names, *shard.parse(entry))]
    assert sorted(covered) == sorted(names)
    assert all(shard.select(names, *shard.parse(entry)) for entry in shards)  # no job without stacks


def test_an_empty_shard_is_left_out_of_the_matrix():
    names = ["a", "b", "c"]
    shards = shard.matrix(names, per_job=1)
    assert len(shards) == len({shard.shard_of(name, 3) for name in names}) and len(shards) <= 3


def test_the_matrix_script_runs_on_a_bare_python_and_prints_one_output_line(tmp_path):
    """The stack-list job has no virtualenv: -I -S keeps out site-packages and the environment."""
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.dev.yaml", "Pulumi.eu-west.yaml", "README.md"):
        (tmp_path / name).write_text("")
    done = subprocess.run([sys.executable, "-I", "-S", str(ROOT / "multus_cni_cli" / "fleet" / "shard.py"), "matrix"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout == 'shards=["1/1"]\n'
    assert shard.stack_files(tmp_path) == ["dev", "eu-west", "prod"]


def test_the_matrix_script_refuses_other_arguments():
    done = subprocess.run([sys.executable, str(ROOT / "multus_cni_cli" / "fleet" / "shard.py"), "list"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "usage: shard.py matrix" in done.stderr


def test_a_stack_file_is_matched_to_the_backends_qualified_name_when_only_that_one_ends_so():
    known = ["acme/dev", "acme/prod", "other/prod", "test"]
    assert [cli._backend_name(name, known) for name in ("dev", "prod", "test", "new")] == ["acme/dev", "prod", "test", "new"]

"""Whether an image reference is pinned: moving tags make nodes run different builds."""

from __future__ import annotations

from typing import Optional

MOVING_TAGS = ("latest", "stable", "snapshot")


def split_image(ref: str) -> tuple[str, Optional[str], Optional[str]]:
    """(repository, tag, digest) of `repo[:tag][@digest]`; a registry port is not a tag."""
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    repository, tag = ref, None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = ref.rsplit(":", 1)
    return repository, tag, digest


def is_moving_tag(tag: str) -> bool:
    """Upstream Multus moves `stable`, `snapshot` and their `-thick`/`-debug` variants on every push."""
    return any(tag == t or tag.startswith(t + "-") for t in MOVING_TAGS)


def pinning_problem(ref: str) -> Optional[str]:
    """Why `ref` is not pinned, or None when it names a fixed tag or a digest."""
    _, tag, digest = split_image(ref)
    if digest:
        return None
    if tag is None:
        return f"image {ref!r} has no tag, so it pulls the moving 'latest'"
    if is_moving_tag(tag):
        return f"image {ref!r} uses the moving tag {tag!r}"
    return None

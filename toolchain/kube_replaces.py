"""Print `go mod edit -replace` flags that pin k8s.io/kubernetes's staging modules for a wrapper.

k8s.io/kubernetes requires every k8s.io/* staging module at v0.0.0 and replaces it with
./staging/src/k8s.io/X; outside that tree each local replace becomes the published v0.N.M module,
and non-local replaces are copied as they are.  Usage: kube_replaces.py GO.MOD v0.36.3
"""
import re
import sys


def replaces(gomod: str, staging_version: str) -> list[str]:
    lines = [line for block in re.findall(r"^replace\s*\((.*?)^\)", gomod, re.M | re.S)
             for line in block.splitlines()]
    lines += re.findall(r"^replace\s+([^(\s].*)$", gomod, re.M)
    flags = []
    for line in lines:
        line = line.split("//")[0].strip()
        if "=>" not in line:
            continue
        old, new = (side.split() for side in line.split("=>"))
        target = f"{old[0]}@{staging_version}" if new[0].startswith(".") else "@".join(new)
        flags.append(f"-replace={'@'.join(old)}={target}")
    return flags


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        print("\n".join(replaces(handle.read(), sys.argv[2])))

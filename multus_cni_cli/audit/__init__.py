"""`multus-cni audit-ipam`: the IP address integrity of one stack's secondary networks.

`findings` judges plain objects (no cluster), `reader` reads them from the cluster, `report`
prints the result; the command is `multus_cni_cli/audit_ipam.py`."""

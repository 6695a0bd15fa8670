"""A cluster's secondary networks as one stack of a larger platform.

The cluster itself lives in another stack, which exports its kubeconfig; this stack reads it
through a StackReference and sends every object through one explicit provider, so nothing falls
back to whatever kubeconfig the machine running `pulumi up` happens to have.
"""

import pulumi
import pulumi_kubernetes as k8s

from components import Multus, NetworkAttachment, SampleWorkload
from components.ownership import ClusterAccess
from components.program import start_registrations

config = pulumi.Config()
cluster_stack = config.get("clusterStack")  # e.g. "acme/cluster/prod", whose output is `kubeconfig`
kubeconfig = (pulumi.StackReference(cluster_stack).require_output("kubeconfig") if cluster_stack
              else config.require_secret("kubeconfig"))
master = config.get("master") or "eth0"

provider = k8s.Provider("cluster", kubeconfig=kubeconfig)
on_cluster = pulumi.ResourceOptions(providers=[provider])
# The same cluster, for the check that no object created here already belongs to someone else.
cluster = ClusterAccess(kubeconfig)

# Protected: deleting Multus breaks pod networking on every node (multus-cni#461).
multus = Multus("multus", {"flavor": "thick"}, opts=pulumi.ResourceOptions(providers=[provider], protect=True),
                cluster=cluster)

storage = NetworkAttachment("storage", {
    "name": "storage",
    "namespace": "default",
    "config": {
        "cniVersion": "0.3.1",
        "type": "macvlan",
        "master": master,
        "mode": "bridge",
        "ipam": {"type": "host-local", "subnet": "192.168.50.0/24", "rangeStart": "192.168.50.100",
                 "rangeEnd": "192.168.50.150"},
    },
}, multus=multus, opts=on_cluster)

probe = SampleWorkload("probe", {"name": "storage-probe", "networks": "storage"}, networks=[storage], opts=on_cluster,
                       cluster=cluster)

pulumi.export("networks", [storage.nad_name])
pulumi.export("probeNetworkStatus", probe.network_status)
start_registrations()  # last: the SDK's wait for the engine stays linear (components/program.py)

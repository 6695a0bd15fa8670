"""The multus-cni stack: config in, components out, outputs exported."""

import os

import pulumi

from components import CniPlugins, Multus, NetworkAttachment, SampleWorkload, Whereabouts
from components.config import config_path, load_from_pulumi
from components.ownership import ClusterAccess
from components.program import start_registrations
from components.warnings import warn_all

project = pulumi.get_project()
stack = load_from_pulumi(project)
warn_all(None, config_path(project), stack.warnings())
# The default provider's cluster: each create first looks there for an object someone else owns.
cluster = ClusterAccess.of_default_provider()

# Never deleted (multus-cni#461): the class protects itself anyway; said here where a reader looks.
multus = Multus(
    "multus", stack.multus,
    opts=pulumi.ResourceOptions(protect=True),
    config_path=config_path(project, "multus"), cluster=cluster,
)

# Optional parts (off by default): the plugins on the nodes, whereabouts; each network waits for
# what installs the plugins it runs. Without them, say which plugins no node is known to have.
warn_all(None, config_path(project), stack.addon_warnings())
cni_plugins = CniPlugins("cni-plugins", stack.cniPlugins, config_path=config_path(project, "cniPlugins"), cluster=cluster) \
    if stack.cniPlugins.enabled else None
whereabouts = Whereabouts("whereabouts", stack.whereabouts, config_path=config_path(project, "whereabouts"),
                          cluster=cluster) \
    if stack.whereabouts.enabled else None


def installers(network) -> list:
    return [c for c in (cni_plugins, whereabouts if network.summary.ipam == "whereabouts" else None) if c]


attachments = {
    network.key: NetworkAttachment(
        network.ref, network, multus=multus,
        config_path=config_path(project, *stack.network_loc(index)), needs=installers(network),
    )
    for index, network in enumerate(stack.networks)
}

# `make up` on the local cluster: its real node reaches no registry, so the sample pods run the image
# built for it (scripts/up.sh sets this; README "What is real in the tests").
local_sample_image = os.environ.get("MULTUS_CNI_SAMPLE_IMAGE") or None
workloads = [
    SampleWorkload(
        f"{workload.namespace}/{workload.name}", workload,
        networks=[attachments[key] for key in workload.attachment_keys() if key in attachments],
        config_path=config_path(project, "workloads", index), cluster=cluster, image=local_sample_image,
    )
    for index, workload in enumerate(stack.workloads)
]

pulumi.export("multusNamespace", multus.namespace)
pulumi.export("multusDaemonSet", multus.daemonset_name)
pulumi.export("networks", sorted(network.ref for network in stack.networks))
pulumi.export("networkStatus", {w.config.ref: w.network_status for w in workloads})
if cni_plugins:
    pulumi.export("cniPluginsDaemonSet", cni_plugins.daemonset_name)
if whereabouts:
    pulumi.export("whereaboutsDaemonSet", whereabouts.daemonset_name)

# Last: the SDK's wait for the engine stays linear in the resources (components/program.py).
start_registrations()

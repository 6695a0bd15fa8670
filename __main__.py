"""The multus-cni stack: config in, components out, outputs exported."""

import pulumi

from components import Multus, NetworkAttachment, SampleWorkload
from components.config import config_path, load_from_pulumi
from components.warnings import warn_all

project = pulumi.get_project()
stack = load_from_pulumi(project)
warn_all(None, config_path(project), stack.warnings())

multus = Multus(
    "multus", stack.multus,
    opts=pulumi.ResourceOptions(protect=True),
    config_path=config_path(project, "multus"),
)

attachments = {
    network.key: NetworkAttachment(
        network.ref, network, multus=multus,
        config_path=config_path(project, "networks", index),
    )
    for index, network in enumerate(stack.networks)
}

workloads = [
    SampleWorkload(
        f"{workload.namespace}/{workload.name}", workload,
        networks=[attachments[key] for key in workload.attachment_keys() if key in attachments],
        config_path=config_path(project, "workloads", index),
    )
    for index, workload in enumerate(stack.workloads)
]

pulumi.export("multusNamespace", multus.namespace)
pulumi.export("multusDaemonSet", multus.daemonset_name)
pulumi.export("networks", sorted(network.ref for network in stack.networks))
pulumi.export("networkStatus", {w.config.ref: w.network_status for w in workloads})

"""Annotation keys and names from the Network Plumbing WG spec (multi-net-spec v1.3) and Multus."""

#: Pod annotation selecting secondary networks (spec §4).
NETWORKS = "k8s.v1.cni.cncf.io/networks"
#: Pod annotation Multus writes back with every attached interface (spec §5).
NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status"
#: Pod annotation replacing the cluster network for that pod (multus-cni docs/configuration.md).
DEFAULT_NETWORK = "v1.multus-cni.io/default-network"
#: NAD annotation naming the device-plugin resource (SR-IOV), read by Multus (pkg/k8sclient).
RESOURCE_NAME = "k8s.v1.cni.cncf.io/resourceName"

NAD_GROUP = "k8s.cni.cncf.io"
NAD_API_VERSION = "k8s.cni.cncf.io/v1"
NAD_KIND = "NetworkAttachmentDefinition"
NAD_CRD_NAME = "network-attachment-definitions.k8s.cni.cncf.io"

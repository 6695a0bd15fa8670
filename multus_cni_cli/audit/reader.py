"""The cluster's objects an audit reads, through the kubeconfig handling the other commands share
(components/kubeapi.py). Pods are listed in every namespace: a whereabouts podref may name any
of them, and a pod may select a network of another namespace. IPPools and reservations are listed
in every namespace too (whereabouts keeps them in its own, the kubeconfig context's namespace);
a kind the cluster does not serve (whereabouts not installed) lists as empty."""

from __future__ import annotations

from components.kubeapi import Cluster, ClusterError  # noqa: F401  (the commands' errors)

from .findings import Snapshot
from .whereabouts import API_VERSION, POOL_KIND, RESERVATION_KIND


def snapshot(cluster: Cluster) -> Snapshot:
    return Snapshot(pods=cluster.list("v1", "Pod"), pools=cluster.list(API_VERSION, POOL_KIND),
                    reservations=cluster.list(API_VERSION, RESERVATION_KIND))

// The Tanzu guide's Multus example in TypeScript, through the multus-cni component package's typed
// SDK (`pulumi package add ../../provider` generates it into sdks/; see README.md).
import * as pulumi from "@pulumi/pulumi";
import * as multusCni from "@pulumi/multus-cni";

// Multus is never deleted (multus-cni#461): the package protects it whatever this says.
const multus = new multusCni.Multus("multus", {}, { protect: true });

// The guide's macvlan-conf, as its NetworkAttachmentDefinition spells it.
const macvlan = new multusCni.NetworkAttachment("macvlan-conf", {
    name: "macvlan-conf",
    multus,
    config: {
        cniVersion: "0.3.0",
        type: "macvlan",
        master: "eth0",
        mode: "bridge",
        ipam: {
            type: "host-local",
            subnet: "192.168.1.0/24",
            rangeStart: "192.168.1.200",
            rangeEnd: "192.168.1.216",
            routes: [{ dst: "0.0.0.0/0" }],
            gateway: "192.168.1.1",
        },
    },
});

// The optional parts: the plugins the network runs, copied onto every node, and whereabouts, the
// cluster-wide IPAM.
const plugins = new multusCni.CniPlugins("cni-plugins", { plugins: ["macvlan", "host-local"] });
const whereabouts = new multusCni.Whereabouts("whereabouts");

// The guide's sample-pod, selecting macvlan-conf. Its networkStatus output (the parsed network-status
// annotation) is not exported: only a real Multus writes it, and kwok's simulated nodes run none.
new multusCni.SampleWorkload("sample-pod", {
    name: "sample-pod",
    networks: [{ name: "macvlan-conf" }],
    attachments: [macvlan],
});

export const multusNamespace = multus.namespace;
export const multusDaemonSet = multus.daemonsetName;
export const network = pulumi.interpolate`${macvlan.nadNamespace}/${macvlan.nadName}`;
export const cniPluginsDaemonSet = plugins.daemonsetName;
export const whereaboutsServiceAccount = whereabouts.serviceAccountName;

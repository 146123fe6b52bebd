// Resource options shared by every engine's components.
import * as pulumi from "@pulumi/pulumi";

/**
 * Options for a resource that holds data: it outlives its removal from the program
 * (retainOnDelete) unless its app is listed for decommissioning, and it is protected when the
 * stack asks for it. Decommissioning lifts both, so the next removal really drops the data.
 */
export function dataOptions(decommissioned: boolean, protect: boolean): Pick<pulumi.CustomResourceOptions, "retainOnDelete" | "protect"> {
    return { retainOnDelete: !decommissioned, protect: protect && !decommissioned };
}

/**
 * A tenancy's data options from its spec: as dataOptions, and the old copy an app moved away from
 * (`retiredAfter`) retained but not protected, so that finishing the move can remove it from
 * Pulumi while the data stays on the server.
 */
export function tenancyDataOptions(spec: { decommissioned?: boolean; protect?: boolean; retiredAfter?: unknown }): Pick<pulumi.CustomResourceOptions, "retainOnDelete" | "protect"> {
    return dataOptions(spec.decommissioned ?? false, (spec.protect ?? false) && spec.retiredAfter === undefined);
}

const DNS_LABEL = /^[a-z]([-a-z0-9]{0,50}[a-z0-9])?$/;

/** Server names become Kubernetes object names and DNS labels (52 characters leaves room for pod suffixes). */
export function assertServerName(name: string): void {
    if (!DNS_LABEL.test(name)) {
        throw new Error(`server name ${JSON.stringify(name)} is not a DNS label of at most 52 lowercase letters, digits or '-'`);
    }
}

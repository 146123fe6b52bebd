// The kubernetes-models classes the tests validate rendered objects with.

/** The kubernetes-models class for an object's apiVersion and kind. */
export async function modelFor(apiVersion: string, kind: string): Promise<new (data: unknown) => { validate(): void }> {
    const group = apiVersion.includes("/") ? apiVersion : `core/${apiVersion}`;
    const [g, v] = group.split("/");
    // Prometheus Operator's and cert-manager's kinds come from packages of models of their own.
    const root = g === "monitoring.coreos.com" ? "@kubernetes-models/prometheus-operator" : g === "cert-manager.io" ? "@kubernetes-models/cert-manager" : "kubernetes-models";
    const path = g === "core" ? `${root}/${v}/${kind}` : `${root}/${g}/${v}/${kind}`;
    const mod = (await import(path)) as Record<string, new (data: unknown) => { validate(): void }>;
    return mod[kind];
}


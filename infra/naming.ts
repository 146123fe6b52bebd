// Names derived from app and engine names only, never from list positions, so adding,
// removing or reordering apps renames nothing else.

/** A Kubernetes-safe form of an app name: app names allow '_', DNS labels do not. */
export function dnsName(app: string): string {
    return app.replace(/_/g, "-");
}

/** A server's name: the engine alone when shared, `<engine>-<app>` when dedicated to one app. */
export function serverName(engine: string, dedicatedTo?: string): string {
    return dedicatedTo === undefined ? engine : `${engine}-${dnsName(dedicatedTo)}`;
}

/** The logical name of an app's tenancy on an engine: `<app>-<engine>`. */
export function tenantName(app: string, engine: string): string {
    return `${app}-${engine}`;
}

/** The Secret an app reads its credentials from, in the app's namespace. */
export function appSecretName(app: string): string {
    return `${dnsName(app)}-databases`;
}

/** Labels every object of a server carries (the recommended app.kubernetes.io set). */
export function serverLabels(engine: string, server: string): Record<string, string> {
    return {
        "app.kubernetes.io/name": engine,
        "app.kubernetes.io/instance": server,
        "app.kubernetes.io/component": "database",
        "app.kubernetes.io/managed-by": "tenant-databases",
    };
}

/**
 * The Kubernetes objects a server owns in the server namespace, by kind: the one place these
 * names are derived (the runtime creates them; config checks that no two servers share one).
 */
export function serverObjectNames(server: string) {
    return {
        StatefulSet: [server],
        Service: [server, `${server}-headless`],
        Secret: [`${server}-admin`, `${server}-config`],
        NetworkPolicy: [`${server}-clients`],
        PersistentVolumeClaim: [`data-${server}-0`],
    };
}

// Names derived from app and engine names only, never from list positions, so adding,
// removing or reordering apps renames nothing else.

// A trailing '_' would become a trailing '-' in Kubernetes names (namespace, server), which the
// API rejects, so the last character is alphanumeric. App names become roles, users, databases
// and key prefixes as they are.
export const APP_NAME_PATTERN = /^[a-z]([a-z0-9_]{0,38}[a-z0-9])?$/;
export const APP_NAME_RULE = "a lowercase letter, then up to 39 lowercase letters, digits or '_', not ending in '_'";

/** A Kubernetes-safe form of an app name: app names allow '_', DNS labels do not. */
export function dnsName(app: string): string {
    return app.replace(/_/g, "-");
}

/** A server's name: the engine alone when shared, `<engine>-<app>` when dedicated to one app. */
export function serverName(engine: string, dedicatedTo?: string): string {
    return dedicatedTo === undefined ? engine : `${engine}-${dnsName(dedicatedTo)}`;
}

/** The logical name of what an app has of an engine whichever server holds it (its backups): `<app>-<engine>`. */
export function tenantName(app: string, engine: string): string {
    return `${app}-${engine}`;
}

/**
 * The logical name of an app's tenancy on one server: `<server>/<app>`. It names the server
 * because during a move an app has a tenancy on two servers of an engine at once. Tenancies
 * made before were named `tenantName(app, engine)`; they keep their state through an alias.
 */
export function tenancyName(app: string, server: string): string {
    return `${server}/${app}`;
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

/** A server's container on the Docker engine: Docker names are global, so they carry the stack's prefix. */
export function dockerContainerName(namePrefix: string, server: string): string {
    return `${namePrefix}-${server}`;
}

/** Pods labelled with a server's name under this key (the platform's backup and restore Jobs) may reach that server. */
export const JOB_FOR_LABEL = "tenant-databases.io/job-for";
/** A move's copy Job reaches two servers: the one it copies to is named under this key. */
export const COPY_TO_LABEL = "tenant-databases.io/copy-to";

/**
 * The Kubernetes objects a server owns in the server namespace, by kind: the one place these
 * names are derived (the runtime creates them; config checks that no two servers share one).
 */
export function serverObjectNames(server: string) {
    return {
        StatefulSet: [server],
        Service: [server, `${server}-headless`],
        Secret: [`${server}-admin`, `${server}-config`, `${server}-metrics`],
        NetworkPolicy: [`${server}-clients`],
        PodMonitor: [server],
        PersistentVolumeClaim: [`data-${server}-0`],
    };
}

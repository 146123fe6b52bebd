// What an app reads: the environment variables in its Secret (Kubernetes) or `.env` (Docker),
// derived from its credentials by one function, so both always agree. Each engine's variables
// come from its descriptor.
import { AppCredentials, ENGINES } from "./engines";

export type { AppCredentials } from "./engines";

/** The variables an app using these engines receives, in the order its Secret lists them. */
export function environmentKeys(engines: string[]): string[] {
    return ["APP_TENANT_ID", ...ENGINES.filter((e) => engines.includes(e.name)).flatMap((e) => e.envKeys)];
}

export function appEnvironment(app: string, credentials: AppCredentials): Record<string, string> {
    const env: Record<string, string> = { APP_TENANT_ID: app };
    for (const engine of ENGINES) {
        const c = (credentials as Record<string, unknown>)[engine.name];
        if (c !== undefined) Object.assign(env, engine.environment(c));
    }
    return env;
}

/** A `.env` file: one `KEY=value` per line; values with characters beyond a URL's are single-quoted. */
export function formatDotenv(env: Record<string, string>): string {
    return (
        Object.entries(env)
            .map(([key, value]) => `${key}=${/^[A-Za-z0-9_./:@%+=?&-]*$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`}`)
            .join("\n") + "\n"
    );
}

// The stack the benchmark evaluates: `apps` apps sharing one PostgreSQL and one Redis server.
// A test validates it, so the benchmark keeps working as the config rules grow.
export function benchConfig(apps: number) {
    const names = Array.from({ length: apps }, (_, i) => `app${String(i).padStart(4, "0")}`);
    return {
        target: "kubernetes",
        placement: "shared",
        kubernetes: { namespace: "databases" },
        // Sized so 500 apps' connection limits fit the server's max_connections (8Gi: 1638).
        engines: { postgresql: { resources: { limits: { memory: "8Gi" } } }, redis: { databases: apps } },
        apps: Object.fromEntries(names.map((name, i) => [name, { postgresql: { connectionLimit: 2 }, redis: { db: i } }])),
    };
}

// The connection budget of a server: its tenants' connection limits plus the slots the admin
// keeps must fit the server's max_connections, or one busy tenant can lock the others out.
// One rule for the stack config and for components used as a library.

export interface ConnectionBudget {
    maxConnections: number;
    /** Kept for the admin (pulumi up, probes). */
    reserved: number;
    tenants: { app: string; limit: number }[];
}

/** The problem with a budget, naming the sum, the limit and the tenants; undefined when it fits. */
export function connectionBudgetProblem(budget: ConnectionBudget): string | undefined {
    const sum = budget.tenants.reduce((total, t) => total + t.limit, 0);
    if (sum + budget.reserved <= budget.maxConnections) return undefined;
    const tenants = [...budget.tenants].sort((a, b) => b.limit - a.limit || a.app.localeCompare(b.app)).map((t) => `${t.app} ${t.limit}`);
    return (
        `the tenants' connection limits add up to ${sum} (${tenants.join(", ")}), plus ${budget.reserved} kept for the admin, ` +
        `${sum + budget.reserved} > max_connections ${budget.maxConnections}; lower the apps' limits, raise maxConnections or the memory limit, or move an app to a dedicated server`
    );
}

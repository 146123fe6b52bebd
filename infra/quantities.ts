// Kubernetes resource quantities as numbers: for validation (requests <= limits), the
// `capacity` output and Docker limits. Only the forms the schema accepts (stacks/schema.ts).

const MEMORY_UNITS_MI: Record<string, number> = {
    "": 1 / (1024 * 1024),
    Ki: 1 / 1024,
    Mi: 1,
    Gi: 1024,
    Ti: 1024 * 1024,
    k: 1000 / (1024 * 1024),
    M: 1e6 / (1024 * 1024),
    G: 1e9 / (1024 * 1024),
    T: 1e12 / (1024 * 1024),
};

/** Memory quantity in MiB ("512Mi" -> 512, "1Gi" -> 1024). */
export function parseMemoryMi(quantity: string): number {
    const match = /^(\d+(?:\.\d+)?)([A-Za-z]*)$/.exec(quantity);
    const unit = match ? MEMORY_UNITS_MI[match[2]] : undefined;
    if (!match || unit === undefined) throw new Error(`not a memory quantity: ${quantity}`);
    return Number(match[1]) * unit;
}

/** CPU quantity in millicores ("250m" -> 250, "1" -> 1000, "0.5" -> 500). */
export function parseCpuMillis(quantity: string): number {
    const match = /^(\d+(?:\.\d+)?)(m?)$/.exec(quantity);
    if (!match) throw new Error(`not a CPU quantity: ${quantity}`);
    return match[2] === "m" ? Number(match[1]) : Number(match[1]) * 1000;
}

export const KIB = 1024;
export const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;

/** Memory quantity in bytes ("512Mi" -> 536870912). */
export function parseMemoryBytes(quantity: string): number {
    return Math.round(parseMemoryMi(quantity) * MIB);
}

/** Bytes in the largest binary unit that keeps one decimal at most: 187904819 -> "179.2Mi". */
export function formatBytes(bytes: number): string {
    for (const [unit, size] of [["Gi", GIB], ["Mi", MIB], ["Ki", KIB]] as const) {
        if (bytes >= size) return `${Number((bytes / size).toFixed(1))}${unit}`;
    }
    return `${bytes}`;
}

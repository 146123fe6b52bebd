// The value shapes engines' config keys are made of (zod), shared by stacks/schema.ts and each
// engine's descriptor, so a memory quantity or a timeout reads the same under every engine.
import { z } from "zod";

// Kubernetes quantities, restricted to the forms that make sense for a database server.
export const MEMORY_PATTERN = /^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/;
export const CPU_PATTERN = /^\d+(\.\d+)?m?$/;

export const memory = z.string().regex(MEMORY_PATTERN, { error: "a memory quantity such as 256Mi or 1Gi" });
export const cpu = z.string().regex(CPU_PATTERN, { error: "a CPU quantity such as 250m or 1" });
/** A timeout in whole seconds, at most a week. */
export const seconds = z.number().int().min(0).max(86400 * 7);
export const connections = z.number().int().min(1).max(100000);
export const tcpPort = z.number().int().min(1).max(65535);

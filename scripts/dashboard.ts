// Writes the Grafana dashboard that components/dashboard.ts builds to dashboards/, where
// tests/dashboard.test.ts checks it never drifts from the code. Import the file in Grafana
// (Dashboards → New → Import) or provision it; it asks for a Prometheus data source.
//
//   npm run dashboard
import * as fs from "fs";
import * as path from "path";
import { DASHBOARD_FILE, dashboardJson } from "../components/dashboard";

/** Where the generated dashboard is committed, from the repository's root. */
export const DASHBOARD_PATH = path.join("dashboards", DASHBOARD_FILE);

export function main(): number {
    const file = path.join(__dirname, "..", DASHBOARD_PATH);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, dashboardJson());
    console.log(`wrote ${DASHBOARD_PATH}`);
    return 0;
}

if (require.main === module) process.exit(main());

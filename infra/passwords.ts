// Generated passwords. They go into URLs, so they are alphanumeric (special: false); URL
// builders still encode them. Any change to these inputs regenerates every password: keep them fixed.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

export const PASSWORD_LENGTH = 32;

export function generatedPassword(name: string, opts: pulumi.CustomResourceOptions): random.RandomPassword {
    return new random.RandomPassword(name, { length: PASSWORD_LENGTH, special: false }, opts);
}

/**
 * The security suite's scanners from PyPI, which `scripts/setup` installs into the tool cache
 * (`scripts/lib/pip_tools.sh`): schemathesis (the API fuzzer) and sslyze (the TLS scanner).
 *
 * @module
 */
import { toolsDir } from "@shop/platform/testing";

const versionKeys = { schemathesis: "SCHEMATHESIS_VERSION", sslyze: "SSLYZE_VERSION" } as const;

/** A scanner of the suite. */
export type SecurityTool = keyof typeof versionKeys;

/**
 * The path of a scanner's command in the tool cache (pinned in `scripts/lib/versions.env`), or an error
 * that says to run the setup.
 *
 * @example
 * ```ts ignore
 * const st = securityToolPath("schemathesis", "st");
 * ```
 */
export function securityToolPath(tool: SecurityTool, binary: string): string {
  const key = versionKeys[tool];
  const versions = Deno.readTextFileSync(new URL("../scripts/lib/versions.env", import.meta.url));
  const version = versions.split("\n").find((line) => line.startsWith(`${key}=`))?.slice(key.length + 1)
    .trim();
  if (version === undefined || version === "") {
    throw new Error(`${key} is missing from scripts/lib/versions.env`);
  }
  const path = `${toolsDir()}/${tool}-${version}/bin/${binary}`;
  try {
    Deno.statSync(path);
  } catch {
    throw new Error(`${tool} ${version} is not installed (no ${path}): run \`deno task setup\``);
  }
  return path;
}

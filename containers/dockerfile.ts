/**
 * A reader of the few Dockerfile instructions this project uses (FROM ... AS, COPY, ENV, USER, CMD,
 * HEALTHCHECK), so tests can check the images without a Docker engine: what each target copies, its
 * environment and the commands it runs. Each stage includes what the stages it is built FROM hold.
 *
 * @module
 */

/** One build stage, with what it inherits from the stages it is built on. */
export interface DockerStage {
  /** `AS <name>`. */
  name: string;
  /** The image or stage after FROM. */
  from: string;
  /** Every COPY source (relative to the build context), own and inherited, with its destination. */
  copies: Array<{ sources: string[]; destination: string }>;
  /** ENV values, inherited ones first. */
  env: Record<string, string>;
  /** The last USER (inherited when the stage sets none); "root" when nobody set one. */
  user: string;
  /** The exec-form CMD, if any (inherited CMDs are not kept: every target sets its own). */
  cmd?: string[];
  /** The exec-form command of HEALTHCHECK, if the stage has one. */
  healthcheck?: string[];
}

/**
 * Reads the stages of a Dockerfile's text, in order.
 *
 * @example
 * ```ts
 * const stages = parseDockerfile("FROM debian AS base\nENV A=1\nCMD [\"true\"]\n");
 * stages[0]?.env; // { A: "1" }
 * ```
 */
export function parseDockerfile(text: string): DockerStage[] {
  const stages: DockerStage[] = [];
  let current: DockerStage | undefined;
  for (const line of logicalLines(text)) {
    const match = /^(\w+)\s+(.*)$/s.exec(line);
    if (!match) continue;
    const instruction = (match[1] ?? "").toUpperCase();
    const rest = (match[2] ?? "").trim();
    if (instruction === "FROM") {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!from?.[1]) throw new Error(`Dockerfile: cannot read FROM ${rest}`);
      const parent = stages.find((stage) => stage.name === from[1]);
      current = {
        name: from[2] ?? `stage-${stages.length}`,
        from: from[1],
        copies: parent ? [...parent.copies] : [],
        env: parent ? { ...parent.env } : {},
        user: parent?.user ?? "root",
      };
      stages.push(current);
      continue;
    }
    if (current === undefined) continue; // ARG before the first FROM
    if (instruction === "COPY") {
      const words = rest.split(/\s+/).filter((word) => !word.startsWith("--"));
      const destination = words.pop();
      if (destination === undefined || words.length === 0) {
        throw new Error(`Dockerfile: cannot read COPY ${rest}`);
      }
      current.copies.push({ sources: words, destination });
    } else if (instruction === "ENV") {
      for (const pair of rest.split(/\s+/)) {
        const equals = pair.indexOf("=");
        if (equals <= 0) throw new Error(`Dockerfile: ENV must be written KEY=value: ${rest}`);
        current.env[pair.slice(0, equals)] = pair.slice(equals + 1);
      }
    } else if (instruction === "USER") {
      current.user = rest;
    } else if (instruction === "CMD") {
      current.cmd = execForm(rest);
    } else if (instruction === "HEALTHCHECK") {
      const command = /(?:^|\s)CMD\s+(\[.*\])$/s.exec(rest);
      if (!command?.[1]) throw new Error(`Dockerfile: HEALTHCHECK must use an exec-form CMD: ${rest}`);
      current.healthcheck = execForm(command[1]);
    }
  }
  return stages;
}

/** Joins continuation lines and drops comments and blank lines. */
function logicalLines(text: string): string[] {
  const lines: string[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) continue;
    if (line.startsWith("#")) continue; // a comment inside a continued instruction
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    lines.push(pending + line);
    pending = "";
  }
  if (pending !== "") lines.push(pending);
  return lines;
}

function execForm(text: string): string[] {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value) || !value.every((word) => typeof word === "string")) {
    throw new Error(`Dockerfile: expected an exec-form JSON array, got ${text}`);
  }
  return value;
}
